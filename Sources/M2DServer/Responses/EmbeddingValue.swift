// EmbeddingValue: a vector as JSON floats or as base64 of its little-endian float32 bytes
// (encoding_format), optionally L2-normalised first.
import M2DJSON

enum EmbeddingValue: Encodable {
    case floats([Float])
    case base64(String)

    init(_ vector: [Float], options: RequestOptions) {
        let v = options.normalize ? Self.l2Normalized(vector) : vector
        switch options.encodingFormat {
        case .float: self = .floats(v)
        case .base64:
            var w = JSONWriter(capacity: v.count * 6)
            w.base64Floats(v)
            self = .base64(String(decoding: w.bytes.dropFirst().dropLast(), as: UTF8.self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .floats(v): try c.encode(v)
        case let .base64(s): try c.encode(s)
        }
    }

    static func l2Normalized<C: Collection>(_ v: C) -> [Float] where C.Element == Float {
        var norm = 0.0
        for x in v { norm += Double(x) * Double(x) }
        let scale = Float(1 / max(norm.squareRoot(), 1e-12))
        return v.map { $0 * scale }
    }
}

// SafeTensorsHeader: the JSON header of a .safetensors file, read with the JSON scanner in one pass
// (no document tree: a hostile 16 MiB header costs its own bytes), every entry checked against the
// data section before it is trusted: a known dtype, non-negative dims whose byte size is computed
// with overflow checks, and offsets that lie inside the data and match that size.
import M2DJSON
import M2DTensor

struct SafeTensorsHeader {
    struct Failure: Error { let reason: String }

    /// Largest header accepted (ViT-Base's is about 20 KB; a thousand-tensor model's about 200 KB).
    static let maxBytes = 16 << 20

    var tensors: [String: TensorInfo] = [:]
    var metadata: [String: String] = [:]
    /// Tensors of a dtype this reader does not widen: recorded, an error only when read.
    var unsupported: [String: String] = [:]

    init(_ header: UnsafeBufferPointer<UInt8>, dataSize: Int) throws {
        var s = JSONScanner(header, maxDepth: 4)
        do {
            try s.enterObject()
            while let keyToken = try s.nextKey() {
                let key = s.unescaped(keyToken)
                if key == "__metadata__" {
                    guard try s.peekKind() == .object else { throw Failure(reason: "__metadata__ is not an object") }
                    try s.enterObject()
                    while let k = try s.nextKey() {
                        let v = try s.value()
                        let text = String(decoding: UnsafeBufferPointer(rebasing: header[v.range]), as: UTF8.self)
                        metadata[s.unescaped(k)] = v.kind == .string ? s.unescaped(v) : text
                    }
                    continue
                }
                try entry(key, &s, header: header, dataSize: dataSize)
            }
            try s.finish()
        } catch let error as JSONScanner.ScanError {
            throw Failure(reason: "header is not a JSON object (\(error))")
        }
    }

    private mutating func entry(
        _ key: String, _ s: inout JSONScanner, header: UnsafeBufferPointer<UInt8>, dataSize: Int
    ) throws {
        let bad = Failure(reason: "bad entry for '\(key)'")
        guard try s.peekKind() == .object else { throw bad }
        var dtypeName: String?, dims: [Int]?, offsets: [Int]?
        try s.enterObject()
        while let field = try s.nextKey() {
            switch s.unescaped(field) {
            case "dtype":
                let v = try s.value()
                guard v.kind == .string else { throw bad }
                dtypeName = s.unescaped(v)
            case "shape": dims = try Self.integers(&s, header)
            case "data_offsets": offsets = try Self.integers(&s, header)
            default: _ = try s.value()
            }
        }
        guard let dtypeName, let dims, let offsets, offsets.count == 2 else { throw bad }
        guard dims.allSatisfy({ $0 >= 0 }) else {
            throw Failure(reason: "bad shape or offsets for '\(key)'")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            unsupported[key] = dtypeName
            return
        }
        // Dims come from the file: multiply with overflow checks before trusting their product.
        var bytes = dtype.byteSize, overflow = false
        for d in dims where !overflow { (bytes, overflow) = bytes.multipliedReportingOverflow(by: d) }
        guard !overflow, offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] <= dataSize,
            offsets[1] - offsets[0] == bytes
        else {
            throw Failure(reason: "data_offsets of '\(key)' do not match its shape \(dims) and dtype \(dtypeName)")
        }
        tensors[key] = TensorInfo(dtype: dtype, shape: Shape(dims), begin: offsets[0], end: offsets[1])
    }

    /// A list of non-negative integers (at most 16: no tensor has more dims, and offsets are two).
    private static func integers(_ s: inout JSONScanner, _ header: UnsafeBufferPointer<UInt8>) throws -> [Int]? {
        guard try s.peekKind() == .array else {
            _ = try s.value()
            return nil
        }
        var out: [Int] = []
        try s.enterArray()
        while try s.nextElement() {
            let v = try s.value()
            let text = String(decoding: UnsafeBufferPointer(rebasing: header[v.range]), as: UTF8.self)
            guard v.kind == .number, out.count < 16, let n = Int(text) else {
                throw Failure(reason: "'\(text.prefix(40))' in a shape or data_offsets list is not an integer")
            }
            out.append(n)
        }
        return out
    }
}

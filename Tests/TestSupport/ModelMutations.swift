// Seeded mutations of a model directory for the fuzz tests: config.json fields set huge, zero,
// negative, fractional, to the wrong JSON type or removed, and safetensors files with their header
// edited (numbers, dtypes, the length field) or cut short.
import Foundation

public struct ModelMutations {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var x = state
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }

    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }

    /// Values that stand in for a field (JSON text).
    public static let values = [
        "1099511627776", "9223372036854775807", "1000000", "0", "-1", "-9223372036854775808", "2.5", "1e300",
        "\"x\"", "true", "null", "[]", "{}", "[80, 1099511627776]", "[0, 0]", "[1]", "[-16, 16]",
        "[16, 1099511627776]", "[1e300, 1]",
    ]
    public static let fields = [
        "embed_dim", "depth", "num_heads", "mlp_ratio", "input_size", "patch_size", "sample_rate", "n_fft",
        "win_length", "hop_length", "n_mels", "f_min", "f_max", "norm_stats", "flat_features", "name",
    ]

    /// config.json with one to three fields replaced or removed.
    public mutating func config(_ text: String) -> String {
        var object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        var replaced: [String: String] = [:]
        for _ in 0..<(1 + below(3)) {
            let field = Self.fields[below(Self.fields.count)]
            if below(6) == 0 { object[field] = nil } else { replaced[field] = Self.values[below(Self.values.count)] }
        }
        for field in replaced.keys { object[field] = nil }
        var out = String(
            decoding: (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8), as: UTF8.self)
        let extra = replaced.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
        if !extra.isEmpty { out = String(out.dropLast()) + (object.isEmpty ? "" : ", ") + extra + "}" }
        return out
    }

    /// A safetensors file with its header edited: a digit, a dtype, a bracket or the length field.
    public mutating func safetensors(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        let headerLength = Int(b[0]) | Int(b[1]) << 8 | Int(b[2]) << 16 | Int(b[3]) << 24
        switch below(6) {
        case 0:  // the length field
            let v: UInt64 = [0, 1, UInt64(headerLength + 1), UInt64(b.count), UInt64.max, 1 << 40][below(6)]
            for i in 0..<8 { b[i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
        case 1:  // cut short
            b = Array(b.prefix(below(min(b.count, 8 + headerLength + 64))))
        default:  // a byte of the header: digits and structure
            for _ in 0..<(1 + below(3)) where headerLength > 0 {
                let at = 8 + below(min(headerLength, b.count - 8))
                b[at] = Array("0123456789]}[{,\"-e F".utf8)[below(20)]
            }
        }
        return b
    }
}

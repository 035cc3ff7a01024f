// JSONWriter: the one JSON writer of m2d-serve (server responses, m2d-embed's JSON lines, JSON
// logs). Bytes are appended to a buffer, so a large document never exists as a tree. Numbers are
// the shortest text that reads back to the same value; integral doubles print as integers.
// NaN policy: a non-finite number is written as null, everywhere.
import Foundation

public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    public mutating func removeAll(keepingCapacity: Bool = true) { bytes.removeAll(keepingCapacity: keepingCapacity) }

    /// Punctuation and other text known to be valid JSON.
    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func byte(_ b: UInt8) { bytes.append(b) }

    public mutating func null() { raw("null") }
    public mutating func bool(_ value: Bool) { if value { raw("true") } else { raw("false") } }
    public mutating func int<I: BinaryInteger>(_ value: I) { bytes.append(contentsOf: String(value).utf8) }

    public mutating func number(_ x: Double) {
        guard x.isFinite else { return null() }
        if x == x.rounded(), abs(x) < 1e15 { return int(Int64(x)) }
        bytes.append(contentsOf: x.description.utf8)
    }

    public mutating func number(_ x: Float) {
        guard x.isFinite else { return null() }
        bytes.append(contentsOf: x.description.utf8)
    }

    /// `[x0,x1,...]`.
    public mutating func floats<C: Collection>(_ values: C) where C.Element == Float {
        bytes.append(UInt8(ascii: "["))
        var first = true
        for v in values {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            number(v)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Little-endian float32 bytes as a base64 string (OpenAI / TEI encoding_format=base64).
    public mutating func base64Floats<C: Collection>(_ values: C) where C.Element == Float {
        bytes.append(UInt8(ascii: "\""))
        base64FloatsUnquoted(values)
        bytes.append(UInt8(ascii: "\""))
    }

    /// The base64 text alone. Pieces whose float counts are multiples of 3 (12 bytes) concatenate
    /// into the base64 of the whole, so a long vector can be written in parts.
    public mutating func base64FloatsUnquoted<C: Collection>(_ values: C) where C.Element == Float {
        var raw = [UInt8]()
        raw.reserveCapacity(values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw += $0 } }
        bytes.append(contentsOf: Data(raw).base64EncodedString().utf8)
    }

    public mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for unit in s.utf8 {
            switch unit {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case UInt8(ascii: "\n"): raw("\\n")
            case UInt8(ascii: "\r"): raw("\\r")
            case UInt8(ascii: "\t"): raw("\\t")
            case 0..<0x20:
                raw("\\u00")
                bytes.append(Self.hex[Int(unit >> 4)])
                bytes.append(Self.hex[Int(unit & 0xF)])
            default: bytes.append(unit)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hex = Array("0123456789abcdef".utf8)
}

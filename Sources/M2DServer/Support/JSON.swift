// Small JSON writing helpers: floats as shortest round-trip text, strings escaped.
import Foundation

public enum JSON {
    public static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    public static func floats<C: Collection>(_ values: C) -> String where C.Element == Float {
        var s = "["
        s.reserveCapacity(values.count * 12)
        var first = true
        for v in values {
            if !first { s += "," }
            first = false
            s += v.isFinite ? v.description : "0"
        }
        return s + "]"
    }

    /// Little-endian float32 bytes, base64 (OpenAI / TEI encoding_format=base64).
    public static func base64Floats<C: Collection>(_ values: C) -> String where C.Element == Float {
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        return Data(bytes).base64EncodedString()
    }

    public static func number(_ x: Double) -> String {
        x.isFinite ? (x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)) : "0"
    }
}

// JSONScanner's strings: finding a string's end while checking it (escapes, control characters,
// UTF-8), eight bytes at a time where nothing needs a look, and reading a string's value. A base64
// payload of 20 MB is plain ASCII, so it is checked at memory speed.

extension JSONScanner {
    /// The index of the closing quote of the string whose first content byte is at `from`, and
    /// whether the string holds an escape.
    func stringEnd(from: Int) throws(ScanError) -> (Int, Bool) {
        let p = bytes.baseAddress!, n = bytes.count
        var i = from, escaped = false
        while true {
            // Eight bytes at a time while none is a quote, a backslash, a control byte or non-ASCII.
            while i + 8 <= n {
                let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                if Self.needsLook(w) { break }
                i += 8
            }
            guard i < n else { throw .invalid(offset: n, reason: "unterminated string") }
            let b = p[i]
            switch b {
            case UInt8(ascii: "\""):
                return (i, escaped)
            case UInt8(ascii: "\\"):
                escaped = true
                guard i + 1 < n else { throw .invalid(offset: i, reason: "unterminated string") }
                switch p[i + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    // A surrogate must come in a high-low pair (Foundation refuses a lone one, and so do we).
                    let unit = try Self.escapedUnit(p, at: i, count: n)
                    i += 6
                    if (0xDC00..<0xE000).contains(unit) { throw .invalid(offset: i - 6, reason: "lone surrogate") }
                    if (0xD800..<0xDC00).contains(unit) {
                        guard i + 1 < n, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u"),
                            (0xDC00..<0xE000).contains(try Self.escapedUnit(p, at: i, count: n))
                        else { throw .invalid(offset: i - 6, reason: "lone surrogate") }
                        i += 6
                    }
                default:
                    throw .invalid(offset: i, reason: "invalid escape")
                }
            case 0..<0x20:
                throw .invalid(offset: i, reason: "control character in a string")
            case 0x80...:
                i += try Self.utf8Length(p, at: i, count: n)
            default:
                i += 1
            }
        }
    }

    /// A string token's value (escapes resolved; a lone surrogate becomes U+FFFD). Scalars only:
    /// the bytes of a string that is not escaped are used as they are.
    public func unescaped(_ token: Token) -> String {
        let slice = UnsafeBufferPointer(rebasing: bytes[token.range])
        guard token.escaped else { return String(decoding: slice, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(slice.count)
        var i = 0
        while i < slice.count {
            let b = slice[i]
            guard b == UInt8(ascii: "\\"), i + 1 < slice.count else {
                out.append(b)
                i += 1
                continue
            }
            let e = slice[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var unit = Self.hex4(slice, i)
                i += 4
                if (0xD800..<0xDC00).contains(unit), i + 6 <= slice.count, slice[i] == UInt8(ascii: "\\"),
                    slice[i + 1] == UInt8(ascii: "u")
                {
                    let low = Self.hex4(slice, i + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                let scalar = Unicode.Scalar(unit) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: out.append(e)  // \" \\ \/
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether any byte of `w` is a quote, a backslash, below 0x20 or above 0x7F.
    @inline(__always)
    static func needsLook(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        func hasZero(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }
        let control = (w &- 0x2020_2020_2020_2020) & ~w & highs
        let quote = hasZero(w ^ 0x2222_2222_2222_2222), backslash = hasZero(w ^ 0x5C5C_5C5C_5C5C_5C5C)
        return (w & highs) | control | quote | backslash != 0
    }

    /// The code unit of the `\uXXXX` escape at `i`.
    static func escapedUnit(_ p: UnsafePointer<UInt8>, at i: Int, count n: Int) throws(ScanError) -> UInt32 {
        guard i + 6 <= n else { throw .invalid(offset: i, reason: "invalid \\u escape") }
        var unit: UInt32 = 0
        for k in 2..<6 {
            guard let d = hexValue(p[i + k]) else { throw .invalid(offset: i, reason: "invalid \\u escape") }
            unit = unit << 4 | d
        }
        return unit
    }

    static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(b - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Four hex digits at `i` (already checked by the scan).
    static func hex4(_ s: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 << 4 | (hexValue(s[i + $1]) ?? 0) }
    }

    /// The length of the well-formed UTF-8 sequence at `i` (RFC 3629: no overlongs, no surrogates).
    static func utf8Length(_ p: UnsafePointer<UInt8>, at i: Int, count n: Int) throws(ScanError) -> Int {
        let b = p[i]
        let (length, low, high): (Int, UInt8, UInt8)
        switch b {
        case 0xC2...0xDF: (length, low, high) = (2, 0x80, 0xBF)
        case 0xE0: (length, low, high) = (3, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (length, low, high) = (3, 0x80, 0xBF)
        case 0xED: (length, low, high) = (3, 0x80, 0x9F)
        case 0xF0: (length, low, high) = (4, 0x90, 0xBF)
        case 0xF1...0xF3: (length, low, high) = (4, 0x80, 0xBF)
        case 0xF4: (length, low, high) = (4, 0x80, 0x8F)
        default: throw .invalid(offset: i, reason: "invalid UTF-8")
        }
        guard i + length <= n, (low...high).contains(p[i + 1]),
            (2..<length).allSatisfy({ (0x80...0xBF).contains(p[i + $0]) })
        else { throw .invalid(offset: i, reason: "invalid UTF-8") }
        return length
    }
}

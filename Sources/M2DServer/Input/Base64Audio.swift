// Base64Audio: one JSON string input (bare base64 or a `data:<media>;base64,` URI) decoded straight
// from the request body into the input's bytes with swift-extras-base64. Standard and URL-safe
// alphabets, with or without padding, and whitespace or JSON escapes inside the string are accepted;
// those (rare) forms are cleaned in 64 KiB pieces, so no cleaned copy of the payload is ever made.
import ExtrasBase64
import M2DAudio
import M2DJSON

enum Base64Audio {
    /// Bytes the decoded input can take at most (what the upload budget is charged before decoding).
    static func decodedBound(_ token: JSONScanner.Token) -> Int { (token.range.count + 3) / 4 * 3 }

    /// The audio of string `token` of `scanner`'s body, which is `key[index]` of the request.
    static func decode(
        _ token: JSONScanner.Token, in scanner: JSONScanner, index: Int, key: String
    ) throws(ServerError) -> [UInt8] {
        let name = "\(key)[\(index)]"
        let payload = try payloadRange(token, in: scanner, name: name)
        let bytes = UnsafeBufferPointer(rebasing: scanner.bytes[payload])
        if bytes.isEmpty { return [] }
        // The common form: plain standard base64, decoded in one call from the body.
        if let plain = try? Base64.decode(bytes: bytes, options: bytes.count % 4 == 0 ? [] : .omitPaddingCharacter) {
            return plain
        }
        guard let cleaned = decodeCleaning(bytes) else { throw .invalidRequest("\(name) is not valid base64") }
        return cleaned
    }

    /// The payload's range in the body, after checking what the string starts with: URLs are refused
    /// (nothing is fetched), a data URI must say `;base64,` and name an audio type.
    private static func payloadRange(
        _ token: JSONScanner.Token, in scanner: JSONScanner, name: String
    ) throws(ServerError) -> Range<Int> {
        let range = token.range
        // The head, up to a comma (which no escape can contain) or 512 bytes, read with its escapes.
        var cut = range.lowerBound, comma: Int?
        while cut < range.upperBound, cut - range.lowerBound < 512 {
            let b = scanner.bytes[cut]
            if b == UInt8(ascii: ",") { comma = cut; break }
            cut += b == UInt8(ascii: "\\") ? (scanner.bytes[cut + 1] == UInt8(ascii: "u") ? 6 : 2) : 1
        }
        cut = min(cut, range.upperBound)
        let head = scanner.unescaped(
            JSONScanner.Token(kind: .string, range: range.lowerBound..<cut, escaped: token.escaped, bool: false))
        if head.hasPrefix("http://") || head.hasPrefix("https://") {
            throw .validation("\(name) is a URL; URLs are not fetched, send the audio as base64", param: name)
        }
        guard head.hasPrefix("data:") else { return range }
        guard let comma, head.hasSuffix(";base64") else {
            throw .invalidRequest("\(name) is a data URI without ';base64,'")
        }
        let mediaType = String(head.dropFirst(5).dropLast(7)).lowercased()
        if !mediaType.isEmpty, !AudioFormat.mediaTypes.contains(mediaType), mediaType != "application/octet-stream" {
            throw .unsupportedMediaType("\(name) has media type '\(mediaType)'")
        }
        return comma + 1..<range.upperBound
    }

    /// What the cleaning loop does with each byte: keep it, drop it (whitespace), map it (URL-safe
    /// alphabet), resolve an escape, or note padding. Anything else is kept for the decoder to refuse.
    private enum Class: UInt8 { case keep, drop, plus, slash, escape, pad }
    private static let classes: [Class] = (0..<256).map { b in
        switch UInt8(b) {
        case 0x20, 0x09, 0x0A, 0x0D: .drop
        case UInt8(ascii: "-"): .plus
        case UInt8(ascii: "_"): .slash
        case UInt8(ascii: "\\"): .escape
        case UInt8(ascii: "="): .pad
        default: .keep
        }
    }

    /// The slow form: JSON escapes resolved, whitespace dropped, the URL-safe alphabet mapped to the
    /// standard one, decoded piece by piece. nil when it is not base64.
    private static func decodeCleaning(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 4 * 3 + 3)
        let pieceSize = 64 << 10  // a multiple of 4: a full piece holds whole quanta
        let piece = UnsafeMutablePointer<UInt8>.allocate(capacity: pieceSize)
        defer { piece.deallocate() }
        var filled = 0, padded = false
        func flush(final: Bool) -> Bool {
            guard filled > 0 else { return true }
            let options: Base64.DecodingOptions = filled % 4 == 0 ? [] : .omitPaddingCharacter
            guard final || filled % 4 == 0,
                let decoded = try? Base64.decode(
                    bytes: UnsafeBufferPointer(start: piece, count: filled), options: options)
            else { return false }
            out.append(contentsOf: decoded)
            filled = 0
            return true
        }
        let classes = Self.classes
        var i = 0
        while i < bytes.count {
            var c = bytes[i]
            i += 1
            switch classes[Int(c)] {
            case .keep: if padded { return nil }  // data after the padding
            case .drop: continue
            case .plus: c = UInt8(ascii: "+")
            case .slash: c = UInt8(ascii: "/")
            case .pad: padded = true
            case .escape:
                guard i < bytes.count else { return nil }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "/"): c = e
                case UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"): continue
                case UInt8(ascii: "u"):
                    guard i + 4 <= bytes.count, let unit = hex4(bytes, i), unit < 0x80 else { return nil }
                    i += 4
                    c = UInt8(unit)
                    switch classes[Int(c)] {
                    case .drop: continue
                    case .plus: c = UInt8(ascii: "+")
                    case .slash: c = UInt8(ascii: "/")
                    case .pad: padded = true
                    case .keep, .escape: if padded { return nil }
                    }
                default: return nil
                }
            }
            piece[filled] = c
            filled += 1
            if filled == pieceSize, !flush(final: false) { return nil }
        }
        return flush(final: true) ? out : nil
    }

    private static func hex4(_ s: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32? {
        var v: UInt32 = 0
        for k in 0..<4 {
            let b = s[i + k]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
            default: return nil
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }
}

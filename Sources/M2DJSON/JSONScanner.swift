// JSONScanner: the one JSON reader of the server's request path. A cursor over the body's bytes that
// checks the grammar (RFC 8259: UTF-8, escapes, numbers, nesting) as it goes and builds nothing:
// strings and numbers come back as byte ranges, containers are entered or skipped whole, and nesting
// deeper than a limit is refused before it is followed. Hand-written because no package on this
// project's list reads JSON without first building every value (Foundation's JSONSerialization and
// JSONDecoder both do), which is what made a 20 MB body cost 30 times its size.
// Must not import anything of the server or the model.

public struct JSONScanner {
    public enum Kind: Sendable, Equatable { case string, number, bool, null, array, object }

    /// One value: where it is in the bytes, and enough to read it without scanning again.
    public struct Token: Sendable, Equatable {
        public let kind: Kind
        /// The value's bytes; for a string, without its quotes.
        public let range: Range<Int>
        /// A string with at least one backslash escape (`unescaped` must be used to read it).
        public let escaped: Bool
        /// The literal of a bool.
        public let bool: Bool

        public init(kind: Kind, range: Range<Int>, escaped: Bool = false, bool: Bool = false) {
            self.kind = kind
            self.range = range
            self.escaped = escaped
            self.bool = bool
        }
    }

    public enum ScanError: Error, Equatable, Sendable, CustomStringConvertible {
        case invalid(offset: Int, reason: String)
        case tooDeep(limit: Int)

        public var description: String {
            switch self {
            case let .invalid(offset, reason): "\(reason) at byte \(offset)"
            case let .tooDeep(limit): "nested deeper than \(limit) levels"
            }
        }
    }

    public let bytes: UnsafeBufferPointer<UInt8>
    public private(set) var position = 0
    /// Containers open around the cursor.
    public private(set) var depth = 0
    public let maxDepth: Int
    /// Whether the container the cursor is in has yielded nothing yet (a comma comes before the rest).
    private var atFirst = true

    /// `bytes` must outlive the scanner. `maxDepth` is at most 64.
    public init(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = 32) {
        precondition((1...64).contains(maxDepth), "JSONScanner supports nesting up to 64")
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    // MARK: containers the caller walks

    /// Consumes `{`.
    public mutating func enterObject() throws(ScanError) {
        try expect(UInt8(ascii: "{"), "expected '{'")
        try push()
    }

    /// Consumes `[`.
    public mutating func enterArray() throws(ScanError) {
        try expect(UInt8(ascii: "["), "expected '['")
        try push()
    }

    /// The next member's key, with the cursor left at its value; nil once `}` is consumed.
    public mutating func nextKey() throws(ScanError) -> Token? {
        guard try nextItem(closing: UInt8(ascii: "}")) else { return nil }
        let key = try scalar()
        guard key.kind == .string else { throw fail("expected a string key") }
        try expect(UInt8(ascii: ":"), "expected ':'")
        return key
    }

    /// True with the cursor at the next element; false once `]` is consumed.
    public mutating func nextElement() throws(ScanError) -> Bool {
        try nextItem(closing: UInt8(ascii: "]"))
    }

    /// Reads the value at the cursor: a scalar is returned, a container is checked and skipped whole
    /// (its token spans it, brackets included).
    public mutating func value() throws(ScanError) -> Token {
        skipWhitespace()
        guard position < bytes.count else { throw fail("unexpected end") }
        switch bytes[position] {
        case UInt8(ascii: "{"), UInt8(ascii: "["): return try skipContainer()
        default: return try scalar()
        }
    }

    /// Only whitespace may follow the last value.
    public mutating func finish() throws(ScanError) {
        skipWhitespace()
        if position < bytes.count { throw fail("unexpected data after the JSON value") }
    }

    /// The kind of the value at the cursor, without consuming it.
    public mutating func peekKind() throws(ScanError) -> Kind {
        skipWhitespace()
        guard position < bytes.count else { throw fail("unexpected end") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        default: return .number
        }
    }

    // MARK: internals

    private mutating func push() throws(ScanError) {
        if depth >= maxDepth { throw .tooDeep(limit: maxDepth) }
        depth += 1
        atFirst = true
    }

    private mutating func nextItem(closing: UInt8) throws(ScanError) -> Bool {
        skipWhitespace()
        guard position < bytes.count else { throw fail("unexpected end") }
        if bytes[position] == closing {
            position += 1
            depth -= 1
            atFirst = false  // the container just closed was an item of the one around it
            return false
        }
        if !atFirst {
            try expect(UInt8(ascii: ","), "expected ',' or '\(Character(Unicode.Scalar(closing)))'")
            skipWhitespace()
            // One trailing comma after an item, as Foundation's JSONSerialization accepts.
            if position < bytes.count, bytes[position] == closing { return try nextItem(closing: closing) }
        }
        atFirst = false
        return true
    }

    mutating func expect(_ byte: UInt8, _ reason: String) throws(ScanError) {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == byte else { throw fail(reason) }
        position += 1
    }

    func fail(_ reason: String) -> ScanError { .invalid(offset: position, reason: reason) }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    /// A string, number or literal at the cursor.
    mutating func scalar() throws(ScanError) -> Token {
        skipWhitespace()
        guard position < bytes.count else { throw fail("unexpected end") }
        let start = position
        switch bytes[position] {
        case UInt8(ascii: "\""):
            let (end, escaped) = try stringEnd(from: position + 1)
            position = end + 1
            return Token(kind: .string, range: start + 1..<end, escaped: escaped, bool: false)
        case UInt8(ascii: "t"): try literal("true"); return Token(kind: .bool, range: start..<position, bool: true)
        case UInt8(ascii: "f"): try literal("false"); return Token(kind: .bool, range: start..<position, bool: false)
        case UInt8(ascii: "n"): try literal("null"); return Token(kind: .null, range: start..<position, bool: false)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try number()
            return Token(kind: .number, range: start..<position, bool: false)
        default:
            throw fail("expected a value")
        }
    }

    private mutating func literal(_ word: StaticString) throws(ScanError) {
        let n = word.utf8CodeUnitCount
        guard position + n <= bytes.count,
            (0..<n).allSatisfy({ bytes[position + $0] == word.utf8Start[$0] })
        else { throw fail("expected a value") }
        position += n
    }

    /// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, and finite as a Double (as Foundation requires).
    private mutating func number() throws(ScanError) {
        /// Skips digits; returns how many, and their value (capped: it only has to exceed 400).
        func digits(_ s: inout JSONScanner) -> (count: Int, value: Int) {
            let start = s.position
            var value = 0
            while s.position < s.bytes.count, (0x30...0x39).contains(s.bytes[s.position]) {
                value = min(value * 10 + Int(s.bytes[s.position] - 0x30), 1 << 20)
                s.position += 1
            }
            return (s.position - start, value)
        }
        let start = position
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count else { throw fail("unexpected end in a number") }
        var magnitude = 1
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            magnitude = digits(&self).count
            if magnitude == 0 { throw fail("expected a digit") }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            if digits(&self).count == 0 { throw fail("expected a digit after '.'") }
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            position += 1
            var sign = 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                sign = bytes[position] == UInt8(ascii: "-") ? -1 : 1
                position += 1
            }
            let exponent = digits(&self)
            if exponent.count == 0 { throw fail("expected a digit in the exponent") }
            magnitude += sign * exponent.value
        }
        // Only a number this large can overflow; only then is it read.
        if magnitude > 300,
            Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self))?.isFinite
                != true
        {
            throw .invalid(offset: start, reason: "number out of range")
        }
    }

    /// Skips the object or array at the cursor, checking it, without recursion: bit `i` of `objects`
    /// says whether level `i` (counted from this container) is an object.
    private mutating func skipContainer() throws(ScanError) -> Token {
        let start = position, base = depth
        var objects: UInt64 = 0
        var needValue = true
        while true {
            if needValue {
                skipWhitespace()
                guard position < bytes.count else { throw fail("unexpected end") }
                let b = bytes[position]
                if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                    position += 1
                    if depth >= maxDepth { throw .tooDeep(limit: maxDepth) }
                    let level = depth - base
                    depth += 1
                    if b == UInt8(ascii: "{") {
                        objects |= 1 << UInt64(level)
                    } else {
                        objects &= ~(1 << UInt64(level))
                    }
                    skipWhitespace()
                    if position < bytes.count, bytes[position] == (b == UInt8(ascii: "{") ? 0x7D : 0x5D) {
                        position += 1
                        depth -= 1
                        needValue = false
                    } else if b == UInt8(ascii: "{") {
                        try memberKey()
                    }
                    continue
                }
                _ = try scalar()
                needValue = false
            }
            if depth == base {
                let kind: Kind = bytes[start] == UInt8(ascii: "{") ? .object : .array
                return Token(kind: kind, range: start..<position, escaped: false, bool: false)
            }
            let inObject = objects & (1 << UInt64(depth - base - 1)) != 0
            skipWhitespace()
            guard position < bytes.count else { throw fail("unexpected end") }
            switch bytes[position] {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
                // One trailing comma, as in nextItem.
                if position < bytes.count, bytes[position] == (inObject ? 0x7D : 0x5D) { continue }
                if inObject { try memberKey() }
                needValue = true
            case UInt8(ascii: "}") where inObject, UInt8(ascii: "]") where !inObject:
                position += 1
                depth -= 1
            default:
                throw fail(inObject ? "expected ',' or '}'" : "expected ',' or ']'")
            }
        }
    }

    private mutating func memberKey() throws(ScanError) {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
        _ = try scalar()
        try expect(UInt8(ascii: ":"), "expected ':'")
    }
}

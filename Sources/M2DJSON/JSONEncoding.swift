// JSONEncoding: Codable values written straight through JSONWriter, keys in the order the value
// encodes them (declaration order for synthesized conformances). Every declared field is written:
// an optional that is nil is `null` (synthesized code asks to skip it; this encoder does not), so a
// response always has the same keys.

public enum JSONEncoding {
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        var writer = JSONWriter(capacity: 1024)
        try encode(value, into: &writer)
        return writer.bytes
    }

    /// Appends `value` to `writer`.
    public static func encode<T: Encodable>(_ value: T, into writer: inout JSONWriter) throws {
        let encoder = StreamingJSONEncoder(writer: writer)
        // The encoder's copy must be the buffer's only reference, or its first append copies it.
        writer = JSONWriter(capacity: 0)
        defer { writer = encoder.writer }
        try encoder.value(value)
    }
}

/// Writes as it goes. Containers are closed when the value that opened them finishes encoding, or
/// when their parent moves on to its next element.
final class StreamingJSONEncoder: Encoder {
    var writer: JSONWriter
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]
    /// Open containers: true for an object. `counts` holds the elements written into each.
    private var open: [Bool] = []
    private var counts: [Int] = []
    /// Depth at which the value now being encoded opens its container.
    private var valueDepth = 0

    init(writer: JSONWriter) { self.writer = writer }

    func value<T: Encodable>(_ value: T) throws {
        switch value {
        case let v as String: writer.string(v)
        case let v as Bool: writer.bool(v)
        case let v as Int: writer.int(v)
        case let v as Double: writer.number(v)
        case let v as Float: writer.number(v)
        case let v as [Float]: writer.floats(v)
        case let v as ArraySlice<Float>: writer.floats(v)
        default:
            let depth = open.count, saved = valueDepth
            valueDepth = depth
            let before = writer.bytes.count
            try value.encode(to: self)
            close(downTo: depth)
            valueDepth = saved
            if writer.bytes.count == before { writer.null() }
        }
    }

    func close(downTo depth: Int) {
        while open.count > depth {
            writer.byte(open.removeLast() ? UInt8(ascii: "}") : UInt8(ascii: "]"))
            counts.removeLast()
        }
    }

    /// Starts element `index` of the container at `depth`: closes what its previous element left open.
    func beginElement(at depth: Int, key: String?) {
        close(downTo: depth + 1)
        if counts[depth] > 0 { writer.byte(UInt8(ascii: ",")) }
        counts[depth] += 1
        if let key {
            writer.string(key)
            writer.byte(UInt8(ascii: ":"))
        }
    }

    func openContainer(object: Bool) -> Int {
        writer.byte(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        open.append(object)
        counts.append(0)
        return open.count - 1
    }

    /// The container of the current value: reused when it asks twice (class hierarchies do).
    private func containerDepth(object: Bool) -> Int {
        if open.count == valueDepth + 1, open[valueDepth] == object { return valueDepth }
        close(downTo: valueDepth)
        return openContainer(object: object)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedContainer<Key>(encoder: self, depth: containerDepth(object: true)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedContainer(encoder: self, depth: containerDepth(object: false))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleValue(encoder: self) }

    func nested(object: Bool, at depth: Int, key: String?) -> Int {
        beginElement(at: depth, key: key)
        return openContainer(object: object)
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: StreamingJSONEncoder
    let depth: Int
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil(forKey key: Key) throws {
        encoder.beginElement(at: depth, key: key.stringValue)
        encoder.writer.null()
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        encoder.beginElement(at: depth, key: key.stringValue)
        try encoder.value(value)
    }

    // Nil optionals are written as null (see the file header), for every overload synthesized code calls.
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try write(value, key) }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try write(value, key) }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try write(value, key) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try write(value, key) }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try write(value, key) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try write(value, key) }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try write(value, key) }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try write(value, key) }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try write(value, key) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try write(value, key) }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try write(value, key) }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try write(value, key) }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try write(value, key) }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try write(value, key) }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try write(value, key) }

    private mutating func write<T: Encodable>(_ value: T?, _ key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(
            KeyedContainer<NestedKey>(
                encoder: encoder,
                depth: encoder.nested(object: true, at: depth, key: key.stringValue)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        UnkeyedContainer(encoder: encoder, depth: encoder.nested(object: false, at: depth, key: key.stringValue))
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        encoder.beginElement(at: depth, key: key.stringValue)
        return encoder
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let encoder: StreamingJSONEncoder
    let depth: Int
    var codingPath: [any CodingKey] { encoder.codingPath }
    private(set) var count = 0

    init(encoder: StreamingJSONEncoder, depth: Int) {
        self.encoder = encoder
        self.depth = depth
    }

    mutating func encodeNil() throws {
        encoder.beginElement(at: depth, key: nil)
        encoder.writer.null()
        count += 1
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        encoder.beginElement(at: depth, key: nil)
        try encoder.value(value)
        count += 1
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        count += 1
        return KeyedEncodingContainer(
            KeyedContainer<NestedKey>(
                encoder: encoder,
                depth: encoder.nested(object: true, at: depth, key: nil)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        count += 1
        return UnkeyedContainer(encoder: encoder, depth: encoder.nested(object: false, at: depth, key: nil))
    }

    mutating func superEncoder() -> any Encoder {
        encoder.beginElement(at: depth, key: nil)
        count += 1
        return encoder
    }
}

private struct SingleValue: SingleValueEncodingContainer {
    let encoder: StreamingJSONEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }
    mutating func encodeNil() throws { encoder.writer.null() }
    mutating func encode<T: Encodable>(_ value: T) throws { try encoder.value(value) }
}

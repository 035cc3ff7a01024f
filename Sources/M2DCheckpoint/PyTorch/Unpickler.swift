// Unpickler: a restricted pickle machine (protocols 2-4, what torch.save writes). It never imports
// or calls anything: torch's tensor and storage rebuild calls become TensorReference values,
// collections.OrderedDict becomes a dict, every other global becomes an inert PickleObject, and
// globals that could run code (os, subprocess, builtins.eval, ...) and unknown opcodes are errors
// (what each global means is Unpickler+Globals.swift).

public struct Unpickler {
    public struct Failure: Error, CustomStringConvertible {
        public let reason: String
        public let offset: Int
        public var description: String { "pickle: \(reason) (at byte \(offset))" }
    }

    /// Deepest nesting accepted: torch checkpoints nest a handful of levels; a pickle nesting
    /// thousands would overflow the stack when its values are freed.
    public static let maxDepth = 256

    private let data: UnsafeRawBufferPointer
    private var pos = 0
    private var stack: [PickleValue] = []
    /// Nesting depth of each stack value (0 for scalars); containers report their live depth.
    private var depths: [Int] = []
    private var marks: [Int] = []
    private var memo: [Int: (value: PickleValue, depth: Int)] = [:]

    public init(_ data: UnsafeRawBufferPointer) { self.data = data }

    public static func load(_ data: UnsafeRawBufferPointer) throws(Failure) -> PickleValue {
        var machine = Unpickler(data)
        return try machine.run()
    }

    func fail(_ reason: String) -> Failure { Failure(reason: reason, offset: pos) }

    private mutating func byte() throws(Failure) -> UInt8 {
        guard pos < data.count else { throw fail("truncated pickle") }
        defer { pos += 1 }
        return data[pos]
    }

    private mutating func take(_ n: Int) throws(Failure) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= data.count - pos else { throw fail("truncated pickle (needs \(n) more bytes)") }
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: data[pos..<(pos + n)])
    }

    private mutating func uint(_ n: Int) throws(Failure) -> Int {
        let b = try take(n)
        var v: UInt64 = 0
        for i in (0..<n).reversed() { v = v << 8 | UInt64(b[i]) }
        guard v <= UInt64(Int.max) else { throw fail("length or index out of range") }
        return Int(v)
    }

    private mutating func line() throws(Failure) -> String {
        guard let end = data[pos...].firstIndex(of: 0x0A) else { throw fail("unterminated text line") }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: data[pos..<end]), as: UTF8.self)
        pos = end + 1
        return s
    }

    private static func depth(of value: PickleValue, stored: Int) -> Int { value.container?.depth ?? stored }

    private mutating func push(_ value: PickleValue, depth: Int = 0) throws(Failure) {
        stack.append(value)
        depths.append(depth)
        if stack.count > 1_000_000 { throw fail("pickle stack grows without bound") }
    }

    private mutating func popItem() throws(Failure) -> (value: PickleValue, depth: Int) {
        guard let v = stack.popLast(), let d = depths.popLast() else { throw fail("stack underflow") }
        if let m = marks.last, stack.count < m { throw fail("stack underflow below mark") }
        return (v, Self.depth(of: v, stored: d))
    }

    private mutating func pop() throws(Failure) -> PickleValue { try popItem().value }

    private mutating func popMark() throws(Failure) -> [(value: PickleValue, depth: Int)] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("no mark on the stack") }
        let items = zip(stack[m...], depths[m...]).map { (value: $0, depth: Self.depth(of: $0, stored: $1)) }
        stack.removeSubrange(m...)
        depths.removeSubrange(m...)
        return items
    }

    private mutating func top() throws(Failure) -> PickleValue {
        guard let v = stack.last else { throw fail("stack underflow") }
        return v
    }

    /// Marks `items` as nested and returns the depth of a value holding them, refusing a value
    /// that holds itself or nests deeper than `maxDepth`.
    private func nest(
        _ items: [(value: PickleValue, depth: Int)], into holder: PickleContainer? = nil
    ) throws(Failure) -> Int {
        var deepest = 0
        for item in items {
            if let c = item.value.container {
                if let holder, c === holder { throw fail("pickle puts a container inside itself; refusing it") }
                c.nested = true
            }
            deepest = max(deepest, item.depth)
        }
        guard deepest < Self.maxDepth else {
            throw fail("pickle nests deeper than \(Self.maxDepth) levels; refusing it")
        }
        return deepest + 1
    }

    /// Adds `items` to the container on top of the stack. A container already inside another value
    /// is never changed: that value's depth, computed when it was built, must stay true.
    private mutating func extendTop(
        _ container: PickleContainer, with items: [(value: PickleValue, depth: Int)]
    ) throws(Failure) {
        guard !container.nested else { throw fail("pickle changes a container after nesting it; refusing it") }
        container.depth = max(container.depth, try nest(items, into: container))
        depths[depths.count - 1] = container.depth
    }

    private mutating func run() throws(Failure) -> PickleValue {
        while true {
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()  // PROTO
            case 0x95: _ = try take(8)  // FRAME
            case 0x2E:  // STOP
                return try pop()
            case 0x28: marks.append(stack.count)  // MARK
            case 0x4E: try push(.none)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case 0x4A: try push(.int(Int64(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
            case 0x4B: try push(.int(Int64(try byte())))  // BININT1
            case 0x4D: try push(.int(Int64(try uint(2))))  // BININT2
            case 0x8A, 0x8B:  // LONG1, LONG4
                let n = op == 0x8A ? Int(try byte()) : try uint(4)
                guard n <= 8 else { throw fail("integer wider than 64 bits") }
                let b = try take(n)
                var v: Int64 = 0
                for i in (0..<n).reversed() { v = v << 8 | Int64(b[i]) }
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 { v -= Int64(1) << (8 * n) }
                try push(.int(v))
            case 0x49:  // INT (text)
                let t = try line()
                if t == "00" || t == "01" {
                    try push(.bool(t == "01"))
                } else {
                    guard let v = Int64(t) else { throw fail("bad INT") }
                    try push(.int(v))
                }
            case 0x4C:  // LONG (text)
                guard let v = Int64(try line().replacingOccurrences(of: "L", with: "")) else { throw fail("bad LONG") }
                try push(.int(v))
            case 0x47:  // BINFLOAT (big-endian double)
                let b = try take(8)
                var bits: UInt64 = 0
                for i in 0..<8 { bits = bits << 8 | UInt64(b[i]) }
                try push(.float(Double(bitPattern: bits)))
            case 0x46:  // FLOAT (text)
                guard let v = Double(try line()) else { throw fail("bad FLOAT") }
                try push(.float(v))
            case 0x58, 0x8C, 0x8D:  // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                let n = op == 0x8C ? Int(try byte()) : try uint(op == 0x58 ? 4 : 8)
                try push(.string(String(decoding: try take(n), as: UTF8.self)))
            case 0x54, 0x55:  // BINSTRING, SHORT_BINSTRING
                let n = op == 0x55 ? Int(try byte()) : try uint(4)
                try push(.string(String(decoding: try take(n), as: UTF8.self)))
            case 0x42, 0x43, 0x8E, 0x96:  // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
                let n = op == 0x43 ? Int(try byte()) : try uint(op == 0x42 ? 4 : 8)
                try push(.bytes(Array(try take(n))))
            case 0x56:  // UNICODE (raw-unicode-escape text)
                try push(.string(try line()))
            case 0x29: try push(.tuple([]), depth: 1)  // EMPTY_TUPLE
            case 0x74:  // TUPLE
                let items = try popMark()
                try push(.tuple(items.map(\.value)), depth: try nest(items))
            case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
                var items: [(value: PickleValue, depth: Int)] = []
                for _ in 0..<Int(op - 0x84) { items.insert(try popItem(), at: 0) }
                try push(.tuple(items.map(\.value)), depth: try nest(items))
            case 0x5D, 0x8F: try push(.list(PickleList()), depth: 1)  // EMPTY_LIST, EMPTY_SET (kept as a list)
            case 0x6C, 0x91:  // LIST, FROZENSET
                let items = try popMark(), l = PickleList()
                l.depth = try nest(items, into: l)
                l.items = items.map(\.value)
                try push(.list(l), depth: l.depth)
            case 0x61:  // APPEND
                let v = try popItem()
                guard case let .list(l) = try top() else { throw fail("APPEND to a non-list") }
                try extendTop(l, with: [v])
                l.items.append(v.value)
            case 0x65, 0x90:  // APPENDS, ADDITEMS
                let items = try popMark()
                switch try top() {
                case let .list(l):
                    try extendTop(l, with: items)
                    l.items += items.map(\.value)
                case .object: if op == 0x90 { throw fail("ADDITEMS to a non-set") }  // list subclass rebuilt inert
                default: throw fail(op == 0x65 ? "APPENDS to a non-list" : "ADDITEMS to a non-set")
                }
            case 0x7D: try push(.dict(PickleDict()), depth: 1)  // EMPTY_DICT
            case 0x64:  // DICT
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail("odd DICT item count") }
                let d = PickleDict()
                d.depth = try nest(items, into: d)
                for i in stride(from: 0, to: items.count, by: 2) {
                    d.items.append((items[i].value, items[i + 1].value))
                }
                try push(.dict(d), depth: d.depth)
            case 0x73:  // SETITEM
                let v = try popItem(), k = try popItem()
                try setItems([k, v])
            case 0x75:  // SETITEMS
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail("odd SETITEMS item count") }
                try setItems(items)
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32:  // DUP
                try push(try top(), depth: depths.last ?? 0)
            case 0x70: memo[Int(try line()) ?? -1] = (try top(), depths.last ?? 0)  // PUT
            case 0x71: memo[Int(try byte())] = (try top(), depths.last ?? 0)  // BINPUT
            case 0x72: memo[try uint(4)] = (try top(), depths.last ?? 0)  // LONG_BINPUT
            case 0x94: memo[memo.count] = (try top(), depths.last ?? 0)  // MEMOIZE
            case 0x67, 0x68, 0x6A:  // GET, BINGET, LONG_BINGET
                let i = op == 0x67 ? (Int(try line()) ?? -1) : op == 0x68 ? Int(try byte()) : try uint(4)
                guard let entry = memo[i] else { throw fail("memo key \(i) is undefined") }
                try push(entry.value, depth: Self.depth(of: entry.value, stored: entry.depth))
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try line(), name = try line()
                try checkGlobal(module, name)
                try push(.global(module: module, name: name))
            case 0x93:  // STACK_GLOBAL
                guard let name = try pop().string, let module = try pop().string else {
                    throw fail("STACK_GLOBAL needs two strings")
                }
                try checkGlobal(module, name)
                try push(.global(module: module, name: name))
            case 0x52, 0x81, 0x92:  // REDUCE, NEWOBJ, NEWOBJ_EX
                if op == 0x92 { _ = try pop() }
                let args = try popItem(), callable = try pop()
                let depth = try nest([args])
                let value = try reduce(callable, args.value)
                if case let .object(o) = value { o.depth = depth }
                try push(value, depth: Self.depth(of: value, stored: depth))
            case 0x62:  // BUILD
                let state = try popItem()
                if case let .object(o) = try top() {
                    try extendTop(o, with: [state])
                    o.state = state.value
                }
            case 0x51:  // BINPERSID
                try push(try persistent(try pop()))
            default:
                throw fail(String(format: "unsupported pickle opcode 0x%02x", op))
            }
        }
    }

    private mutating func setItems(_ items: [(value: PickleValue, depth: Int)]) throws(Failure) {
        switch try top() {
        case let .dict(d):
            try extendTop(d, with: items)
            for i in stride(from: 0, to: items.count, by: 2) { d.items.append((items[i].value, items[i + 1].value)) }
        case .object: break  // dict subclass rebuilt inert
        default: throw fail("SETITEMS on a non-dict")
        }
    }
}

// Unpickler: a restricted pickle machine (protocols 2-4, what torch.save writes). It never imports
// or calls anything: torch's tensor and storage rebuild calls become TensorReference values,
// collections.OrderedDict becomes a dict, every other global becomes an inert PickleObject, and
// globals that could run code (os, subprocess, builtins.eval, ...) and unknown opcodes are errors.

public struct Unpickler {
    public struct Failure: Error, CustomStringConvertible {
        public let reason: String
        public let offset: Int
        public var description: String { "pickle: \(reason) (at byte \(offset))" }
    }

    static let forbiddenModules: Set<String> = [
        "os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "pickle", "marshal", "runpy",
        "code", "pty", "ctypes", "multiprocessing", "webbrowser", "commands", "platform", "io", "tempfile", "pathlib",
    ]
    static let forbiddenBuiltins: Set<String> = [
        "eval", "exec", "compile", "open", "__import__", "getattr", "setattr", "delattr", "globals", "locals", "vars",
        "input", "breakpoint", "memoryview", "apply", "execfile", "reload",
    ]

    private let data: UnsafeRawBufferPointer
    private var pos = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    public init(_ data: UnsafeRawBufferPointer) { self.data = data }

    public static func load(_ data: UnsafeRawBufferPointer) throws(Failure) -> PickleValue {
        var machine = Unpickler(data)
        return try machine.run()
    }

    private func fail(_ reason: String) -> Failure { Failure(reason: reason, offset: pos) }

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
        var v = 0
        for i in (0..<n).reversed() { v = v << 8 | Int(b[i]) }
        return v
    }

    private mutating func line() throws(Failure) -> String {
        guard let end = data[pos...].firstIndex(of: 0x0A) else { throw fail("unterminated text line") }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: data[pos..<end]), as: UTF8.self)
        pos = end + 1
        return s
    }

    private mutating func pop() throws(Failure) -> PickleValue {
        guard let v = stack.popLast() else { throw fail("stack underflow") }
        if let m = marks.last, stack.count < m { throw fail("stack underflow below mark") }
        return v
    }

    private mutating func popMark() throws(Failure) -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("no mark on the stack") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private mutating func top() throws(Failure) -> PickleValue {
        guard let v = stack.last else { throw fail("stack underflow") }
        return v
    }

    private func checkGlobal(_ module: String, _ name: String) throws(Failure) {
        let root = String(module.split(separator: ".").first ?? "")
        if Self.forbiddenModules.contains(root) || ((module == "builtins" || module == "__builtin__") && Self.forbiddenBuiltins.contains(name)) {
            throw fail("forbidden global \(module).\(name): this checkpoint tries to run code; refusing to load it")
        }
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
            case 0x4E: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4A: stack.append(.int(Int64(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
            case 0x4B: stack.append(.int(Int64(try byte())))  // BININT1
            case 0x4D: stack.append(.int(Int64(try uint(2))))  // BININT2
            case 0x8A, 0x8B:  // LONG1, LONG4
                let n = op == 0x8A ? Int(try byte()) : try uint(4)
                guard n <= 8 else { throw fail("integer wider than 64 bits") }
                let b = try take(n)
                var v: Int64 = 0
                for i in (0..<n).reversed() { v = v << 8 | Int64(b[i]) }
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 { v -= Int64(1) << (8 * n) }
                stack.append(.int(v))
            case 0x49:  // INT (text)
                let t = try line()
                if t == "00" || t == "01" { stack.append(.bool(t == "01")) } else {
                    guard let v = Int64(t) else { throw fail("bad INT") }
                    stack.append(.int(v))
                }
            case 0x4C:  // LONG (text)
                guard let v = Int64(try line().replacingOccurrences(of: "L", with: "")) else { throw fail("bad LONG") }
                stack.append(.int(v))
            case 0x47:  // BINFLOAT (big-endian double)
                let b = try take(8)
                var bits: UInt64 = 0
                for i in 0..<8 { bits = bits << 8 | UInt64(b[i]) }
                stack.append(.float(Double(bitPattern: bits)))
            case 0x46:  // FLOAT (text)
                guard let v = Double(try line()) else { throw fail("bad FLOAT") }
                stack.append(.float(v))
            case 0x58, 0x8C, 0x8D:  // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                let n = op == 0x8C ? Int(try byte()) : try uint(op == 0x58 ? 4 : 8)
                stack.append(.string(String(decoding: try take(n), as: UTF8.self)))
            case 0x54, 0x55:  // BINSTRING, SHORT_BINSTRING
                let n = op == 0x55 ? Int(try byte()) : try uint(4)
                stack.append(.string(String(decoding: try take(n), as: UTF8.self)))
            case 0x42, 0x43, 0x8E, 0x96:  // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
                let n = op == 0x43 ? Int(try byte()) : try uint(op == 0x42 ? 4 : 8)
                stack.append(.bytes(Array(try take(n))))
            case 0x56:  // UNICODE (raw-unicode-escape text)
                stack.append(.string(try line()))
            case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
            case 0x74: stack.append(.tuple(try popMark()))  // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))
            case 0x86:
                let b = try pop(), a = try pop()
                stack.append(.tuple([a, b]))
            case 0x87:
                let c = try pop(), b = try pop(), a = try pop()
                stack.append(.tuple([a, b, c]))
            case 0x5D: stack.append(.list(PickleList()))  // EMPTY_LIST
            case 0x6C:  // LIST
                let l = PickleList()
                l.items = try popMark()
                stack.append(.list(l))
            case 0x61:  // APPEND
                let v = try pop()
                guard case let .list(l) = try top() else { throw fail("APPEND to a non-list") }
                l.items.append(v)
            case 0x65:  // APPENDS
                let items = try popMark()
                switch try top() {
                case let .list(l): l.items += items
                case .object: break  // list subclass rebuilt inert
                default: throw fail("APPENDS to a non-list")
                }
            case 0x7D: stack.append(.dict(PickleDict()))  // EMPTY_DICT
            case 0x64:  // DICT
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail("odd DICT item count") }
                let d = PickleDict()
                for i in stride(from: 0, to: items.count, by: 2) { d.items.append((items[i], items[i + 1])) }
                stack.append(.dict(d))
            case 0x73:  // SETITEM
                let v = try pop(), k = try pop()
                try setItems([k, v])
            case 0x75:  // SETITEMS
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail("odd SETITEMS item count") }
                try setItems(items)
            case 0x8F: stack.append(.list(PickleList()))  // EMPTY_SET (kept as a list)
            case 0x90:  // ADDITEMS
                let items = try popMark()
                if case let .list(l) = try top() { l.items += items } else { throw fail("ADDITEMS to a non-set") }
            case 0x91:  // FROZENSET
                let l = PickleList()
                l.items = try popMark()
                stack.append(.list(l))
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32: stack.append(try top())  // DUP
            case 0x70: memo[Int(try line()) ?? -1] = try top()  // PUT
            case 0x71: memo[Int(try byte())] = try top()  // BINPUT
            case 0x72: memo[try uint(4)] = try top()  // LONG_BINPUT
            case 0x94: memo[memo.count] = try top()  // MEMOIZE
            case 0x67, 0x68, 0x6A:  // GET, BINGET, LONG_BINGET
                let i = op == 0x67 ? (Int(try line()) ?? -1) : op == 0x68 ? Int(try byte()) : try uint(4)
                guard let v = memo[i] else { throw fail("memo key \(i) is undefined") }
                stack.append(v)
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try line(), name = try line()
                try checkGlobal(module, name)
                stack.append(.global(module: module, name: name))
            case 0x93:  // STACK_GLOBAL
                guard let name = try pop().string, let module = try pop().string else { throw fail("STACK_GLOBAL needs two strings") }
                try checkGlobal(module, name)
                stack.append(.global(module: module, name: name))
            case 0x52:  // REDUCE
                let args = try pop(), callable = try pop()
                stack.append(try reduce(callable, args))
            case 0x81:  // NEWOBJ
                let args = try pop(), cls = try pop()
                stack.append(try reduce(cls, args))
            case 0x92:  // NEWOBJ_EX
                _ = try pop()
                let args = try pop(), cls = try pop()
                stack.append(try reduce(cls, args))
            case 0x62:  // BUILD
                let state = try pop()
                if case let .object(o) = try top() { o.state = state }
            case 0x51:  // BINPERSID
                stack.append(try persistent(try pop()))
            default:
                throw fail(String(format: "unsupported pickle opcode 0x%02x", op))
            }
            if stack.count > 1_000_000 { throw fail("pickle stack grows without bound") }
        }
    }

    private mutating func setItems(_ items: [PickleValue]) throws(Failure) {
        switch try top() {
        case let .dict(d):
            for i in stride(from: 0, to: items.count, by: 2) { d.items.append((items[i], items[i + 1])) }
        case .object: break  // dict subclass rebuilt inert
        default: throw fail("SETITEMS on a non-dict")
        }
    }

    /// ('storage', <storage class>, key, location, numel) -> a storage reference.
    private func persistent(_ pid: PickleValue) throws(Failure) -> PickleValue {
        guard case let .tuple(t) = pid, t.count >= 5, t[0].string == "storage",
              case let .global(module, name) = t[1], module == "torch", let key = t[2].string,
              let numel = t[4].int, numel >= 0, numel < Int64(1) << 40
        else { throw fail("unrecognised persistent id") }
        guard let dtype = TorchDType(rawValue: name) else { throw fail("unsupported storage type torch.\(name)") }
        return .storage(key: key, dtype: dtype, numel: Int(numel))
    }

    private func reduce(_ callable: PickleValue, _ args: PickleValue) throws(Failure) -> PickleValue {
        guard case let .global(module, name) = callable else {
            if case let .object(o) = callable { return .object(PickleObject(global: o.global, args: [args])) }
            throw fail("REDUCE on a non-callable")
        }
        let argList: [PickleValue]
        if case let .tuple(t) = args { argList = t } else { argList = [args] }
        switch (module, name) {
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard argList.count >= 4, case let .storage(key, dtype, numel) = argList[0], let offset = argList[1].int,
                  case let .tuple(sizeValues) = argList[2], case let .tuple(strideValues) = argList[3] else {
                throw fail("malformed tensor rebuild arguments")
            }
            let shape = sizeValues.compactMap { $0.int.map(Int.init) }, strides = strideValues.compactMap { $0.int.map(Int.init) }
            guard shape.count == sizeValues.count, strides.count == shape.count, offset >= 0,
                  shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else { throw fail("malformed tensor shape or strides") }
            // The furthest element must lie inside the storage.
            var last = Int(offset)
            for (n, s) in zip(shape, strides) where n > 0 {
                let (step, o1) = (n - 1).multipliedReportingOverflow(by: s)
                let (sum, o2) = last.addingReportingOverflow(step)
                guard !o1, !o2 else { throw fail("tensor extent overflows") }
                last = sum
            }
            if !shape.contains(0), last >= numel { throw fail("tensor view exceeds its storage (\(last) >= \(numel))") }
            var elements = 1
            for n in shape {
                let (p, o) = elements.multipliedReportingOverflow(by: n)
                guard !o, p <= 1 << 34 else { throw fail("tensor shape \(shape) is implausibly large") }
                elements = p
            }
            return .tensor(TensorReference(storageKey: key, dtype: dtype, storageNumel: numel, offset: Int(offset), shape: shape, strides: strides))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let first = argList.first else { throw fail("malformed parameter rebuild") }
            return first
        case ("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict"):
            return .dict(PickleDict())
        default:
            return .object(PickleObject(global: "\(module).\(name)", args: argList))
        }
    }
}

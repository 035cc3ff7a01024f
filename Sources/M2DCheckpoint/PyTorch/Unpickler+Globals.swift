// What the globals of a torch checkpoint mean to the Unpickler: the modules and builtins that could
// run code (refused), torch's storage ids, and the rebuild calls that become TensorReference values;
// every other global stays an inert PickleObject.
extension Unpickler {
    static let forbiddenModules: Set<String> = [
        "os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "pickle", "marshal", "runpy",
        "code", "pty", "ctypes", "multiprocessing", "webbrowser", "commands", "platform", "io", "tempfile", "pathlib",
    ]
    static let forbiddenBuiltins: Set<String> = [
        "eval", "exec", "compile", "open", "__import__", "getattr", "setattr", "delattr", "globals", "locals", "vars",
        "input", "breakpoint", "memoryview", "apply", "execfile", "reload",
    ]

    func checkGlobal(_ module: String, _ name: String) throws(Failure) {
        let root = String(module.split(separator: ".").first ?? "")
        if Self.forbiddenModules.contains(root)
            || ((module == "builtins" || module == "__builtin__") && Self.forbiddenBuiltins.contains(name))
        {
            throw fail("forbidden global \(module).\(name): this checkpoint tries to run code; refusing to load it")
        }
    }

    /// ('storage', <storage class>, key, location, numel) -> a storage reference.
    func persistent(_ pid: PickleValue) throws(Failure) -> PickleValue {
        guard case let .tuple(t) = pid, t.count >= 5, t[0].string == "storage",
            case let .global(module, name) = t[1], module == "torch", let key = t[2].string,
            let numel = t[4].int, numel >= 0, numel < Int64(1) << 40
        else { throw fail("unrecognised persistent id") }
        guard let dtype = TorchDType(rawValue: name) else { throw fail("unsupported storage type torch.\(name)") }
        return .storage(key: key, dtype: dtype, numel: Int(numel))
    }

    func reduce(_ callable: PickleValue, _ args: PickleValue) throws(Failure) -> PickleValue {
        guard case let .global(module, name) = callable else {
            if case let .object(o) = callable { return .object(PickleObject(global: o.global, args: [args])) }
            throw fail("REDUCE on a non-callable")
        }
        let argList: [PickleValue]
        if case let .tuple(t) = args { argList = t } else { argList = [args] }
        switch (module, name) {
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard argList.count >= 4, case let .storage(key, dtype, numel) = argList[0], let offset = argList[1].int,
                case let .tuple(sizeValues) = argList[2], case let .tuple(strideValues) = argList[3]
            else {
                throw fail("malformed tensor rebuild arguments")
            }
            let shape = sizeValues.compactMap { $0.int.map(Int.init) },
                strides = strideValues.compactMap { $0.int.map(Int.init) }
            guard shape.count == sizeValues.count, strides.count == shape.count, offset >= 0,
                shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 })
            else { throw fail("malformed tensor shape or strides") }
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
            return .tensor(
                TensorReference(
                    storageKey: key, dtype: dtype, storageNumel: numel, offset: Int(offset), shape: shape,
                    strides: strides))
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

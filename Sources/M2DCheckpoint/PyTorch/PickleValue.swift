// The values the restricted unpickler builds. Containers are classes because pickle mutates them
// through its memo (APPENDS / SETITEMS on a memoised list or dict). Each container knows how deep
// it nests and whether it sits inside another value yet: the unpickler refuses to change a nested
// container, so every depth it computed stays true.

/// Nesting bookkeeping shared by the container classes.
public class PickleContainer {
    /// 1 + the deepest element's depth.
    public internal(set) var depth = 1
    /// Set once the container is an element of another value.
    var nested = false
}

public final class PickleList: PickleContainer { public var items: [PickleValue] = [] }
public final class PickleDict: PickleContainer { public var items: [(key: PickleValue, value: PickleValue)] = [] }

/// Anything built from a global we do not interpret: kept inert, never called.
public final class PickleObject: PickleContainer {
    public let global: String
    public var args: [PickleValue]
    public var state: PickleValue?
    init(global: String, args: [PickleValue]) {
        self.global = global
        self.args = args
    }
}

/// A tensor as torch._utils._rebuild_tensor_v2 describes it: a strided view of a storage.
public struct TensorReference: Sendable {
    public let storageKey: String
    public let dtype: TorchDType
    public let storageNumel: Int
    public let offset: Int
    public let shape: [Int]
    public let strides: [Int]
}

public enum TorchDType: String, Sendable {
    case float32 = "FloatStorage", float16 = "HalfStorage", bfloat16 = "BFloat16Storage", float64 = "DoubleStorage"
    case int64 = "LongStorage", int32 = "IntStorage", int16 = "ShortStorage", int8 = "CharStorage", uint8 =
        "ByteStorage", bool = "BoolStorage"

    public var byteSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }
    public var isFloatingPoint: Bool { self == .float32 || self == .float16 || self == .bfloat16 || self == .float64 }
}

public indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case global(module: String, name: String)
    case object(PickleObject)
    case storage(key: String, dtype: TorchDType, numel: Int)
    case tensor(TensorReference)

    public var string: String? { if case let .string(s) = self { return s }; return nil }

    /// The container behind this value, if it is one.
    var container: PickleContainer? {
        switch self {
        case let .list(l): l
        case let .dict(d): d
        case let .object(o): o
        default: nil
        }
    }
    public var int: Int64? {
        switch self {
        case let .int(i): return i
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }

    /// The (key, value) pairs of a dict (also an OrderedDict rebuilt inert).
    public var dictItems: [(key: PickleValue, value: PickleValue)]? {
        if case let .dict(d) = self { return d.items }
        return nil
    }

    /// Value for a string key of a dict.
    public subscript(key: String) -> PickleValue? {
        dictItems?.first { $0.key.string == key }?.value
    }
}

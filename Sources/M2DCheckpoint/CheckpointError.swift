// Typed errors of checkpoint reading and writing; messages name the key and the fix.
import M2DTensor

public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unsupportedDType(key: String, dtype: String)
    case missingKey(key: String, expected: Shape)
    case shapeMismatch(key: String, expected: Shape, actual: Shape)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): "cannot open checkpoint \(path): \(reason)"
        case let .malformed(path, reason):
            "\(path) is not a valid \(path.hasSuffix(".safetensors") ? "safetensors file" : "checkpoint"): \(reason)"
        case let .unsupportedDType(key, dtype):
            "tensor '\(key)' has dtype \(dtype); supported dtypes are F32, F16 and BF16"
        case let .missingKey(key, expected):
            "missing tensor '\(key)' (expected shape \(expected)); is this an M2D encoder checkpoint?"
        case let .shapeMismatch(key, expected, actual):
            "tensor '\(key)' has shape \(actual), expected \(expected); check config.json matches the weights"
        case let .writeFailed(path, reason): "cannot write \(path): \(reason)"
        }
    }
}

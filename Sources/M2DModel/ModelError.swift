// Typed errors of model loading and inference input.
import M2DCheckpoint

public enum ModelError: Error, Equatable, CustomStringConvertible {
    case notFound(path: String)
    case invalidConfig(String)
    case checkpoint(CheckpointError)
    case inputTooShort(frames: Int, minimum: Int)

    public var description: String {
        switch self {
        case let .notFound(path):
            "no model at \(path): expected a directory with config.json and model.safetensors"
        case let .invalidConfig(reason): "invalid model config: \(reason)"
        case let .checkpoint(error): error.description
        case let .inputTooShort(frames, minimum): "input has \(frames) log-mel frames; at least \(minimum) are needed"
        }
    }
}

extension ModelError {
    /// `body`'s result; what it throws becomes a ModelError: a ModelError as it is, a CheckpointError as
    /// `.checkpoint`, anything else as `.invalidConfig` (after "`context`: " when given).
    static func mapping<T>(context: String? = nil, _ body: () throws -> T) throws(ModelError) -> T {
        do {
            return try body()
        } catch let error as ModelError {
            throw error
        } catch let error as CheckpointError {
            throw .checkpoint(error)
        } catch {
            throw .invalidConfig(context.map { "\($0): \(error)" } ?? "\(error)")
        }
    }
}

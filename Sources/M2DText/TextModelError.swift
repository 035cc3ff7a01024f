// TextModelError: what can go wrong loading or running a text encoder; each case names the fix.
import M2DCheckpoint

public enum TextModelError: Error, CustomStringConvertible, Equatable {
    case notFound(path: String)
    case invalidConfig(String)
    case checkpoint(String)
    /// The model directory has no `text/` part.
    case noTextEncoder(model: String)
    /// A checkpoint family whose text encoder is not a BERT (NV-Embed-v2, a 7B decoder).
    case unsupportedFamily(String)
    case tooLong(index: Int, tokens: Int, limit: Int)
    case emptyText(index: Int)
    /// The compute library failed a product (the embeddings would be wrong).
    case engine(String)

    public var description: String {
        switch self {
        case let .notFound(path): "no text encoder at \(path) (config.json, model.safetensors and vocab.txt)"
        case let .invalidConfig(what): "invalid text encoder config: \(what)"
        case let .checkpoint(what): "text encoder weights: \(what)"
        case let .noTextEncoder(model):
            "the model \(model) has no text encoder: import an M2D-CLAP checkpoint with its text side "
                + "(m2d-train import FILE.pth --out DIR --text-vocab vocab.txt for the 2025 ...TI checkpoints, "
                + "--text-encoder HF_DIR for the 2024 ones)"
        case let .unsupportedFamily(what): what
        case let .tooLong(index, tokens, limit):
            "text \(index) is \(tokens) tokens, over the encoder's \(limit) (shorten it, or cut it: truncate=true "
                + "in a request, --truncate in m2d-embed)"
        case let .emptyText(index): "text \(index) is empty"
        case let .engine(what): "the text encoder's engine failed: \(what)"
        }
    }

    static func mapping<T>(_ body: () throws -> T) throws(TextModelError) -> T {
        do { return try body() } catch let error as CheckpointError {
            throw .checkpoint(error.description)
        } catch { throw .checkpoint("\(error)") }
    }
}

// TextModel: the `text/` part of a model directory (config.json, model.safetensors, vocab.txt; docs/TEXT.md)
// with its tokenizer: texts in, CLAP text embeddings out.
import Foundation
import M2DCheckpoint
import M2DTensor

public final class TextModel: Sendable {
    public static let folder = "text"
    public let path: String
    /// The files' sizes and modification times when loaded: an unchanged text part need not be loaded again.
    public let fingerprint: String
    public let tokenizer: BertTokenizer
    public let encoder: BertTextEncoder
    public var config: TextConfig { encoder.config }

    /// The text part of the model directory `model`, or nil when it has none.
    public static func load(modelDirectory model: String, engine: GEMMEngine? = nil) throws(TextModelError)
        -> TextModel?
    {
        let path = model + "/" + folder
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try TextModel(path: path, engine: engine)
    }

    /// `engine` nil runs on OpenBLAS; an engine that owns its weights takes the Linear weights over while loading
    /// (the projection's stay on OpenBLAS: one row per text).
    public init(path: String, engine: GEMMEngine? = nil) throws(TextModelError) {
        guard let data = FileManager.default.contents(atPath: path + "/config.json") else {
            throw .notFound(path: path)
        }
        let config: TextConfig
        do { config = try JSONDecoder().decode(TextConfig.self, from: data) } catch {
            throw .invalidConfig("\(path)/config.json: \(error)")
        }
        try config.validate()
        do { tokenizer = try BertTokenizer(vocabularyFile: path + "/vocab.txt") } catch {
            throw .invalidConfig("\(error)")
        }
        guard tokenizer.vocabulary.count <= config.vocabularySize else {
            throw .invalidConfig(
                "vocab.txt has \(tokenizer.vocabulary.count) tokens, the embeddings only \(config.vocabularySize)")
        }
        let file = try TextModelError.mapping { try SafeTensorsFile(path: path + "/model.safetensors") }
        let weights = try TextWeights(config: config, file: file)
        if let engine {
            weights.prepare(engine)
            if let failure = engine.takeFailure() { throw .engine("packing the weights: \(failure)") }
        }
        encoder = BertTextEncoder(weights: weights, engine: engine)
        self.path = path
        fingerprint = Self.fingerprint(path)
    }

    /// Sizes and modification times of the text part's three files ("" when one is missing).
    public static func fingerprint(_ path: String) -> String {
        var parts: [String] = []
        for name in ["config.json", "model.safetensors", "vocab.txt"] {
            guard let a = try? FileManager.default.attributesOfItem(atPath: path + "/" + name),
                let size = a[.size] as? Int, let date = a[.modificationDate] as? Date
            else { return "" }
            parts.append("\(name):\(size):\(date.timeIntervalSince1970)")
        }
        return parts.joined(separator: ",")
    }

    /// Token ids of each text, [CLS] ... [SEP]. An empty (or whitespace-only) text is refused; one over the
    /// encoder's positions is refused, or cut to them with `truncate` (as the runtime's tokenizer does).
    public func tokenize(_ texts: [String], truncate: Bool = false) throws(TextModelError) -> [[Int32]] {
        let limit = config.maxPositions
        var out: [[Int32]] = []
        out.reserveCapacity(texts.count)
        for (i, text) in texts.enumerated() {
            let ids = tokenizer.encode(text)
            if ids.count <= 2 { throw .emptyText(index: i) }
            if ids.count > limit {
                if !truncate { throw .tooLong(index: i, tokens: ids.count, limit: limit) }
                out.append(Array(ids.prefix(limit - 1)) + [tokenizer.sepId])
            } else {
                out.append(ids)
            }
        }
        return out
    }

    /// (texts.count, outputDim) embeddings, not normalized (as the official `encode_clap_text`).
    public func embed(_ texts: [String], truncate: Bool = false) throws(TextModelError) -> FloatBuffer {
        try encoder.embed(try tokenize(texts, truncate: truncate))
    }
}

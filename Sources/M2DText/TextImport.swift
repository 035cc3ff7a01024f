// TextImport: writes the `text/` part of a model directory from an M2D-CLAP checkpoint's text side
// (docs/TEXT.md "Import"):
// - 2025 (`...pBpTI`): the .pth holds the BERT under `text_encoder.text_encoder.` (Hugging Face BertModel keys);
//   the user gives bert-base-uncased's vocab.txt; [CLS] pooling.
// - 2024 (no suffix, GTE-base): the text encoder is a Hugging Face folder (config.json, model.safetensors or
//   pytorch_model.bin, vocab.txt); mean pooling.
// Either way the checkpoint's `text_proj` (none in the official releases) comes along. Shapes give the sizes;
// heads are hidden / 64 unless given (every BERT of both releases), or config.json's for a folder.
import Foundation
import M2DCheckpoint
import M2DTensor

public enum TextImport {
    public typealias Tensors = [String: (shape: [Int], values: [Float])]

    /// The text encoder inside an official 2025 checkpoint, or nil when it has none.
    public static func officialTensors(_ checkpoint: PyTorchCheckpoint) throws(TextModelError) -> Tensors? {
        let prefix = "text_encoder.text_encoder."
        let found = try tensors(of: checkpoint, prefix: prefix)
        return found.isEmpty ? nil : found
    }

    /// `text_proj.*` of an official checkpoint (under `backbone.` or not).
    public static func projectionTensors(_ checkpoint: PyTorchCheckpoint) throws(TextModelError) -> Tensors {
        var out = try tensors(of: checkpoint, prefix: "backbone.text_proj.")
        if out.isEmpty { out = try tensors(of: checkpoint, prefix: "text_proj.") }
        return Dictionary(uniqueKeysWithValues: out.map { ("text_proj." + $0.key, $0.value) })
    }

    /// Float tensors of the checkpoint's state dict under `prefix`, the prefix removed.
    static func tensors(of checkpoint: PyTorchCheckpoint, prefix: String) throws(TextModelError) -> Tensors {
        var out: Tensors = [:]
        for (key, t) in stateDict(checkpoint) where key.hasPrefix(prefix) {
            guard [.float32, .float16, .bfloat16, .float64].contains(t.dtype) else { continue }
            let values = try TextModelError.mapping { try checkpoint.array(t, name: key) }
            out[String(key.dropFirst(prefix.count))] = (t.shape, values)
        }
        return out
    }

    /// The state dict's tensors: under `model` when the file has one, as the official loaders read it.
    static func stateDict(_ checkpoint: PyTorchCheckpoint) -> [(String, TensorReference)] {
        var state = checkpoint.root
        if let model = checkpoint.root["model"], model.dictItems != nil { state = model }
        return PyTorchCheckpoint.tensors(of: state)
    }

    /// A Hugging Face BERT folder's config (sizes, heads, eps) and float tensors (`bert.` prefix removed,
    /// int64 buffers such as `embeddings.position_ids` skipped).
    public static func huggingFaceFolder(_ folder: String) throws(TextModelError) -> (config: HFConfig, Tensors) {
        guard let data = FileManager.default.contents(atPath: folder + "/config.json") else {
            throw .notFound(path: folder + " (a Hugging Face folder needs config.json)")
        }
        let config: HFConfig
        do { config = try JSONDecoder().decode(HFConfig.self, from: data) } catch {
            throw .invalidConfig("\(folder)/config.json: \(error)")
        }
        if config.modelType ?? "bert" != "bert" || config.hiddenAct ?? "gelu" != "gelu"
            || config.positionEmbeddingType ?? "absolute" != "absolute"
        {
            throw .unsupportedFamily(
                "\(folder) is a '\(config.modelType ?? "?")' model (\(config.hiddenAct ?? "gelu") activation, "
                    + "\(config.positionEmbeddingType ?? "absolute") positions); only BERT text encoders (model_type "
                    + "bert, exact GELU, absolute positions) are supported")
        }
        // The tokenizer here is uncased BERT's: a cased vocabulary would be read wrongly, so it is refused.
        if let data = FileManager.default.contents(atPath: folder + "/tokenizer_config.json"),
            let tokenizer = try? JSONDecoder().decode(HFTokenizerConfig.self, from: data),
            tokenizer.doLowerCase == false
        {
            throw .unsupportedFamily(
                "\(folder)'s tokenizer keeps case (do_lower_case false); only uncased BERT vocabularies are supported")
        }
        var raw: Tensors = [:]
        let safetensors = folder + "/model.safetensors", bin = folder + "/pytorch_model.bin"
        if FileManager.default.fileExists(atPath: safetensors) {
            let file = try TextModelError.mapping { try SafeTensorsFile(path: safetensors) }
            for key in file.keys {
                guard let shape = file.shape(of: key), let values = try? file.array(key) else { continue }
                raw[key] = (shape.dims, values)
            }
        } else if FileManager.default.fileExists(atPath: bin) {
            let checkpoint = try TextModelError.mapping { try PyTorchCheckpoint(path: bin) }
            raw = try tensors(of: checkpoint, prefix: "")
        } else {
            throw .notFound(path: folder + " (no model.safetensors or pytorch_model.bin)")
        }
        var out: Tensors = [:]
        for (key, value) in raw {
            let name = key.hasPrefix("bert.") ? String(key.dropFirst(5)) : key
            out[name] = value
        }
        return (config, out)
    }

    /// The sizes a BertModel's tensors imply.
    public static func inferConfig(
        _ t: Tensors, heads: Int?, pooling: TextConfig.Pooling, source: String, epsilon: Float = 1e-12
    ) throws(TextModelError) -> TextConfig {
        func shape(_ key: String) throws(TextModelError) -> [Int] {
            guard let s = t[key]?.shape, s.count == 2 else { throw .checkpoint("missing \(key) (a 2-d tensor)") }
            return s
        }
        let words = try shape("embeddings.word_embeddings.weight")
        let D = words[1]
        let layerIndices = t.keys.compactMap { key -> Int? in
            guard key.hasPrefix("encoder.layer.") else { return nil }
            return Int(key.dropFirst("encoder.layer.".count).prefix { $0 != "." })
        }
        guard let lastLayer = layerIndices.max() else { throw .checkpoint("no encoder.layer.* tensors") }
        var config = TextConfig(
            layers: lastLayer + 1, hidden: D, heads: heads ?? max(1, D / 64),
            intermediate: try shape("encoder.layer.0.intermediate.dense.weight")[0],
            maxPositions: try shape("embeddings.position_embeddings.weight")[0],
            typeVocabulary: try shape("embeddings.token_type_embeddings.weight")[0], vocabularySize: words[0],
            layerNormEpsilon: epsilon, pooling: pooling, projection: .none, outputDim: D, source: source)
        if let w = t["text_proj.weight"]?.shape, w.count == 2 {
            config.projection = .linear
            config.outputDim = w[0]
        } else if let w = t["text_proj.2.weight"]?.shape, w.count == 2 {
            config.projection = .mlp
            config.outputDim = w[0]
        }
        try config.validate()
        return config
    }

    /// Writes `<out>/text/`: config.json, model.safetensors (the keys TextWeights reads; a missing or misshapen
    /// one is refused before anything is written), vocab.txt (checked by loading it as the tokenizer).
    public static func write(
        config: TextConfig, tensors: Tensors, vocabulary: String, to out: String
    )
        throws(TextModelError)
    {
        let tokenizer: BertTokenizer
        do { tokenizer = try BertTokenizer(vocabularyFile: vocabulary) } catch { throw .invalidConfig("\(error)") }
        guard tokenizer.vocabulary.count <= config.vocabularySize else {
            throw .invalidConfig(
                "\(vocabulary) has \(tokenizer.vocabulary.count) tokens but the word embeddings only "
                    + "\(config.vocabularySize): not this encoder's vocabulary")
        }
        var writer = SafeTensorsWriter(metadata: ["format": "pt", "source": config.source])
        for (key, shape) in TextWeights.expectedKeys(config) {
            guard let t = tensors[key] else { throw .checkpoint("missing \(key) \(shape)") }
            guard Shape(t.shape) == shape else { throw .checkpoint("\(key) is \(t.shape), expected \(shape)") }
            writer.add(key, shape: shape, array: t.values)
        }
        // Written whole beside the model, then renamed into place: a crash or a failed step never leaves a
        // text part that mixes two imports.
        let dir = out + "/" + TextModel.folder, staging = out + "/.\(TextModel.folder).partial-\(getpid())"
        let files = FileManager.default
        do {
            try? files.removeItem(atPath: staging)
            try files.createDirectory(atPath: staging, withIntermediateDirectories: true)
            try writer.write(to: staging + "/model.safetensors")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(config).write(to: URL(fileURLWithPath: staging + "/config.json"), options: .atomic)
            try files.copyItem(atPath: vocabulary, toPath: staging + "/vocab.txt")
            if files.fileExists(atPath: dir) { try files.removeItem(atPath: dir) }
            try files.moveItem(atPath: staging, toPath: dir)
        } catch {
            try? files.removeItem(atPath: staging)
            throw .checkpoint("cannot write \(dir): \(error)")
        }
    }
}

/// The fields of a Hugging Face BertConfig that matter here.
public struct HFConfig: Decodable, Sendable {
    public let hiddenSize: Int?
    public let numAttentionHeads: Int?
    public let layerNormEps: Float?
    public let modelType: String?
    public let hiddenAct: String?
    public let positionEmbeddingType: String?

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", numAttentionHeads = "num_attention_heads", layerNormEps = "layer_norm_eps"
        case modelType = "model_type", hiddenAct = "hidden_act", positionEmbeddingType = "position_embedding_type"
    }
}

/// The one field of a Hugging Face tokenizer_config.json that matters here.
struct HFTokenizerConfig: Decodable {
    let doLowerCase: Bool?
    enum CodingKeys: String, CodingKey { case doLowerCase = "do_lower_case" }
}

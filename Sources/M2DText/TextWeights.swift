// TextWeights: a BertModel's tensors as `<model>/text/model.safetensors` stores them (Hugging Face key names
// without a prefix; `text_proj.*` for a checkpoint's projection), checked against TextConfig before any
// read. Query, key and value are stacked into one (3D, D) product at load, in that order, so attention
// reads them as the audio encoder's qkv.
import M2DCheckpoint
import M2DTensor

public final class TextWeights: @unchecked Sendable {
    // SAFETY: written once in init, only read afterwards.
    public struct Layer: @unchecked Sendable {
        public let qkvW, qkvB, outW, outB, attnNormW, attnNormB, fc1W, fc1B, fc2W, fc2B, outNormW, outNormB: FloatBuffer
    }

    public let config: TextConfig
    public let wordEmbeddings, positionEmbeddings, tokenTypeEmbeddings, embeddingNormW, embeddingNormB: FloatBuffer
    public let layers: [Layer]
    /// `text_proj`: Linear (first pair only) or Linear-ReLU-Linear.
    public let projection: [(weight: FloatBuffer, bias: FloatBuffer)]

    /// Hands every Linear weight to `engine` (an engine that owns its weights packs each once, as the audio
    /// encoder's are, and then runs the products on the fused encoder's thread team).
    public func prepare(_ engine: GEMMEngine) {
        let D = config.hidden, I = config.intermediate
        for w in layers {
            engine.prepareLinear(weight: w.qkvW.pointer, C: D, OC: 3 * D, rows: 256)
            engine.prepareLinear(weight: w.outW.pointer, C: D, OC: D, rows: 256)
            engine.prepareLinear(weight: w.fc1W.pointer, C: D, OC: I, rows: 256)
            engine.prepareLinear(weight: w.fc2W.pointer, C: I, OC: D, rows: 256)
        }
    }

    /// Every key this file must hold for `config`, with its shape.
    public static func expectedKeys(_ c: TextConfig) -> [(String, Shape)] {
        let D = c.hidden, I = c.intermediate
        var keys: [(String, Shape)] = [
            ("embeddings.word_embeddings.weight", [c.vocabularySize, D]),
            ("embeddings.position_embeddings.weight", [c.maxPositions, D]),
            ("embeddings.token_type_embeddings.weight", [c.typeVocabulary, D]),
            ("embeddings.LayerNorm.weight", [D]), ("embeddings.LayerNorm.bias", [D]),
        ]
        for l in 0..<c.layers {
            let p = "encoder.layer.\(l)."
            for part in ["query", "key", "value"] {
                keys += [(p + "attention.self.\(part).weight", [D, D]), (p + "attention.self.\(part).bias", [D])]
            }
            keys += [
                (p + "attention.output.dense.weight", [D, D]), (p + "attention.output.dense.bias", [D]),
                (p + "attention.output.LayerNorm.weight", [D]), (p + "attention.output.LayerNorm.bias", [D]),
                (p + "intermediate.dense.weight", [I, D]), (p + "intermediate.dense.bias", [I]),
                (p + "output.dense.weight", [D, I]), (p + "output.dense.bias", [D]),
                (p + "output.LayerNorm.weight", [D]), (p + "output.LayerNorm.bias", [D]),
            ]
        }
        switch c.projection {
        case .none: break
        case .linear: keys += [("text_proj.weight", [c.outputDim, D]), ("text_proj.bias", [c.outputDim])]
        case .mlp:
            keys += [
                ("text_proj.0.weight", [D, D]), ("text_proj.0.bias", [D]),
                ("text_proj.2.weight", [c.outputDim, D]), ("text_proj.2.bias", [c.outputDim]),
            ]
        }
        return keys
    }

    public init(config c: TextConfig, file: SafeTensorsFile) throws(TextModelError) {
        try c.validate()
        for (key, shape) in Self.expectedKeys(c) {
            guard let actual = file.shape(of: key) else { throw .checkpoint("missing \(key) \(shape)") }
            guard actual == shape else { throw .checkpoint("\(key) is \(actual), the config needs \(shape)") }
        }
        func read(_ key: String) throws(TextModelError) -> FloatBuffer {
            let shape = file.shape(of: key)!
            let buffer = FloatBuffer(count: shape.count)
            try TextModelError.mapping { try file.read(key, expecting: shape, into: buffer.pointer) }
            return buffer
        }
        func stacked(_ keys: [String]) throws(TextModelError) -> FloatBuffer {
            var parts: [FloatBuffer] = []
            for key in keys { parts.append(try read(key)) }
            let out = FloatBuffer(count: parts.reduce(0) { $0 + $1.count })
            var offset = 0
            for part in parts {
                (out.pointer + offset).update(from: part.pointer, count: part.count)
                offset += part.count
            }
            return out
        }
        config = c
        wordEmbeddings = try read("embeddings.word_embeddings.weight")
        positionEmbeddings = try read("embeddings.position_embeddings.weight")
        tokenTypeEmbeddings = try read("embeddings.token_type_embeddings.weight")
        embeddingNormW = try read("embeddings.LayerNorm.weight")
        embeddingNormB = try read("embeddings.LayerNorm.bias")
        var layers: [Layer] = []
        for l in 0..<c.layers {
            let p = "encoder.layer.\(l)."
            let a = p + "attention.self."
            layers.append(
                Layer(
                    qkvW: try stacked(["query", "key", "value"].map { a + $0 + ".weight" }),
                    qkvB: try stacked(["query", "key", "value"].map { a + $0 + ".bias" }),
                    outW: try read(p + "attention.output.dense.weight"),
                    outB: try read(p + "attention.output.dense.bias"),
                    attnNormW: try read(p + "attention.output.LayerNorm.weight"),
                    attnNormB: try read(p + "attention.output.LayerNorm.bias"),
                    fc1W: try read(p + "intermediate.dense.weight"), fc1B: try read(p + "intermediate.dense.bias"),
                    fc2W: try read(p + "output.dense.weight"), fc2B: try read(p + "output.dense.bias"),
                    outNormW: try read(p + "output.LayerNorm.weight"), outNormB: try read(p + "output.LayerNorm.bias")))
        }
        self.layers = layers
        switch c.projection {
        case .none: projection = []
        case .linear: projection = [(try read("text_proj.weight"), try read("text_proj.bias"))]
        case .mlp:
            projection = [
                (try read("text_proj.0.weight"), try read("text_proj.0.bias")),
                (try read("text_proj.2.weight"), try read("text_proj.2.bias")),
            ]
        }
    }
}

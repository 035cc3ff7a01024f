// TextConfig: the shape of an M2D-CLAP text encoder (a Hugging Face BertModel) and how its output becomes
// one embedding, as `<model>/text/config.json` stores it (docs/TEXT.md).
import Foundation

public struct TextConfig: Codable, Sendable, Equatable {
    /// How the last hidden state becomes one vector per text (the official runtime, per family).
    public enum Pooling: String, Codable, Sendable {
        /// The [CLS] row (2025 BERT; not BertModel's pooler).
        case cls
        /// The mean over the text's tokens (2024 GTE, sentence-transformers' MiniLM).
        case mean
    }

    /// The checkpoint's `text_proj`, applied after pooling: none (both official releases), a Linear, or
    /// Linear-ReLU-Linear (`text_proj.0` / `text_proj.2`).
    public enum Projection: String, Codable, Sendable { case none, linear, mlp }

    public var layers: Int
    public var hidden: Int
    public var heads: Int
    public var intermediate: Int
    public var maxPositions: Int
    public var typeVocabulary: Int
    public var vocabularySize: Int
    public var layerNormEpsilon: Float
    public var pooling: Pooling
    public var projection: Projection
    /// Width of the embedding after the projection (`hidden` without one).
    public var outputDim: Int
    /// Where the weights came from (the .pth or the Hugging Face folder), for /info.
    public var source: String

    enum CodingKeys: String, CodingKey {
        case layers, hidden, heads, intermediate, pooling, projection, source
        case maxPositions = "max_positions", typeVocabulary = "type_vocab_size", vocabularySize = "vocab_size"
        case layerNormEpsilon = "layer_norm_eps", outputDim = "output_dim"
    }

    /// bert-base-uncased, the text encoder of the 2025 M2D-CLAP (its config is not in the .pth).
    public static func bertBase(pooling: Pooling, source: String) -> TextConfig {
        TextConfig(
            layers: 12, hidden: 768, heads: 12, intermediate: 3072, maxPositions: 512, typeVocabulary: 2,
            vocabularySize: 30522, layerNormEpsilon: 1e-12, pooling: pooling, projection: .none, outputDim: 768,
            source: source)
    }

    /// Each field on its own, before anything is allocated from it.
    public func validate() throws(TextModelError) {
        func need(_ ok: Bool, _ what: String) throws(TextModelError) {
            if !ok { throw .invalidConfig(what) }
        }
        try need((1...48).contains(layers), "layers \(layers) must be 1...48")
        try need((1...4096).contains(hidden), "hidden \(hidden) must be 1...4096")
        try need((1...128).contains(heads) && hidden % heads == 0, "heads \(heads) must be 1...128 and divide hidden")
        try need((1...16384).contains(intermediate), "intermediate \(intermediate) must be 1...16384")
        try need((2...4096).contains(maxPositions), "max_positions \(maxPositions) must be 2...4096")
        // A forward holds one text's attention weights for every head: bounded here, not at request time.
        try need(
            heads * maxPositions * maxPositions <= 64 << 20,
            "heads x max_positions^2 = \(heads * maxPositions * maxPositions) must be at most \(64 << 20)")
        try need((1...16).contains(typeVocabulary), "type_vocab_size \(typeVocabulary) must be 1...16")
        try need((5...1_000_000).contains(vocabularySize), "vocab_size \(vocabularySize) must be 5...1000000")
        try need(layerNormEpsilon > 0 && layerNormEpsilon < 1, "layer_norm_eps must be in (0, 1)")
        try need((1...16384).contains(outputDim), "output_dim \(outputDim) must be 1...16384")
        try need(projection != .none || outputDim == hidden, "output_dim must equal hidden without a projection")
    }
}

// The bodies of POST /embed and POST /v1/embeddings (docs/HTTP-API.md §3). Clip answers are DTOs;
// frame answers are streamed (FramesStream), because a long clip's frames are megabytes of text.
import M2DModel

/// /v1/embeddings usage: OpenAI's two token counts (output frames per clip; flat features: time steps).
struct TokenUsage: Encodable {
    let promptTokens: Int
    let totalTokens: Int

    enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", totalTokens = "total_tokens" }

    init(promptTokens: Int, totalTokens: Int) {
        self.promptTokens = promptTokens
        self.totalTokens = totalTokens
    }

    init(_ items: [EmbeddedClip], model: ModelConfig) {
        let tokens = items.reduce(0) { $0 + Self.tokens($1.embedding, model: model) }
        promptTokens = tokens
        totalTokens = tokens
    }

    static func tokens(_ e: Embedding, model: ModelConfig) -> Int {
        model.flatFeatures ? e.frameCount / model.freqPatches : e.frameCount
    }
}

/// /embed usage: the token counts and the seconds of audio they came from.
struct Usage: Encodable {
    let audioSeconds: Double
    let promptTokens: Int
    let totalTokens: Int

    enum CodingKeys: String, CodingKey {
        case audioSeconds = "audio_seconds", promptTokens = "prompt_tokens", totalTokens = "total_tokens"
    }

    init(_ items: [EmbeddedClip], model: ModelConfig) {
        let tokens = TokenUsage(items, model: model)
        audioSeconds = items.reduce(0) { $0 + $1.facts.durationSeconds }
        promptTokens = tokens.promptTokens
        totalTokens = tokens.totalTokens
    }
}

/// POST /embed with granularity=clip.
struct ClipEmbedResponse: Encodable {
    struct Item: Encodable {
        let object = "embedding"
        let index: Int
        let embedding: EmbeddingValue
        let durationSeconds: Double
        let inputSampleRate: Int
        let inputChannels: Int

        enum CodingKeys: String, CodingKey {
            case object, index, embedding, durationSeconds = "duration_seconds", inputSampleRate = "input_sample_rate"
            case inputChannels = "input_channels"
        }
    }

    let object = "list"
    let model: String
    let dim: Int
    let data: [Item]
    let usage: Usage

    /// `clips` replaces the clip embeddings (of length `dim`), e.g. by their CLAP projections.
    init(
        _ items: [EmbeddedClip], options: RequestOptions, model: ModelConfig, clips: [[Float]]? = nil, dim: Int? = nil
    ) {
        self.model = model.name
        self.dim = dim ?? model.embeddingDim
        data = items.enumerated().map { i, item in
            Item(
                index: i, embedding: EmbeddingValue(clips?[i] ?? item.embedding.clip, options: options),
                durationSeconds: item.facts.durationSeconds,
                inputSampleRate: item.facts.inputSampleRate, inputChannels: item.facts.inputChannels)
        }
        usage = Usage(items, model: model)
    }
}

/// POST /v1/embeddings (OpenAI shape).
struct OpenAIEmbedResponse: Encodable {
    struct Item: Encodable {
        let object = "embedding"
        let index: Int
        let embedding: EmbeddingValue
    }

    let object = "list"
    let data: [Item]
    let model: String
    let usage: TokenUsage

    init(_ items: [EmbeddedClip], options: RequestOptions, model: ModelConfig) {
        data = items.enumerated().map {
            Item(index: $0, embedding: EmbeddingValue($1.embedding.clip, options: options))
        }
        self.model = model.name
        usage = TokenUsage(items, model: model)
    }
}

/// GET /v1/models.
struct ModelList: Encodable {
    struct Model: Encodable {
        let id: String
        let object = "model"
        let created: Int
        let ownedBy = "m2d-serve"

        enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }
    }

    let object = "list"
    let data: [Model]
}

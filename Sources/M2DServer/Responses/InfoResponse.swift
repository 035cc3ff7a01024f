// The body of GET /info: the model, its limits, the engine and the build (docs/HTTP-API.md §1).
import Foundation
import M2DModel

struct InfoResponse: Encodable {
    struct Architecture: Encodable {
        let embedDim, depth, numHeads: Int
        let inputSize, patchSize: [Int]
        enum CodingKeys: String, CodingKey {
            case embedDim = "embed_dim", depth, numHeads = "num_heads", inputSize = "input_size", patchSize =
                "patch_size"
        }
    }

    struct Model: Encodable {
        let modelID, modelSHA, modelDtype: String
        let embeddingDim, sampleRate: Int
        let chunkSeconds, frameHopMs: Double
        let flatFeatures: Bool
        let architecture: Architecture
        let normStats: [Float]
        let provenance: JSONValue?

        init(_ c: ModelConfig, sha: String, precision: String) {
            modelID = c.name
            modelSHA = sha
            modelDtype = precision == "fp32" ? "float32" : precision
            embeddingDim = c.embeddingDim
            sampleRate = c.sampleRate
            chunkSeconds = Double(c.chunkFrames * c.hopLength) / Double(c.sampleRate)
            frameHopMs = Double(c.patchWidth * c.hopLength) * 1000 / Double(c.sampleRate)
            flatFeatures = c.flatFeatures
            architecture = Architecture(
                embedDim: c.embedDim, depth: c.depth, numHeads: c.numHeads, inputSize: c.inputSize,
                patchSize: c.patchSize)
            normStats = c.normStats
            provenance = c.provenance
        }
    }

    struct Head: Encodable {
        let name: String
        let labels: [String]
        let multiLabel: Bool
        let defaultFunction: String
        let metric: String
        let reportedScore: Double?
        let task: String?
        let classes: Int
        let input: String

        init(_ h: ProbeHead) {
            classes = h.classes
            input = h.input.rawValue
            name = h.name
            labels = h.labels
            multiLabel = h.multiLabel
            defaultFunction = h.defaultActivation.rawValue
            metric = h.report["metric"] ?? "accuracy"
            reportedScore = h.report["test_\(metric)"].flatMap(Double.init)
            task = h.report["task"]
        }

        enum CodingKeys: String, CodingKey {
            case name, labels, multiLabel = "multi_label", defaultFunction = "default_function", metric
            case reportedScore = "reported_score", task, classes, input
        }
    }

    struct Limits: Encodable {
        let maxConcurrentRequests, maxClientBatchSize, maxBatchChunks, payloadLimit: Int
        let maxBatchDelayMs, maxBatchMs, maxAudioSeconds, maxRequestAudioSeconds, maxInflightAudioSeconds: Double
        let maxInflightUploadBytes, maxSampleRate, maxDecodedSamples: Int
        let maxTexts, maxTextBytes, maxRequestTokens, labelCacheEntries: Int

        init(_ c: ServerConfig) {
            maxConcurrentRequests = c.maxConcurrentRequests
            maxClientBatchSize = c.maxClientBatchSize
            maxBatchChunks = c.maxBatchChunks
            payloadLimit = c.payloadLimit
            maxBatchDelayMs = c.maxBatchDelayMs
            maxBatchMs = c.maxBatchMs
            maxAudioSeconds = c.maxAudioSeconds
            maxRequestAudioSeconds = c.maxRequestAudioSeconds
            maxInflightAudioSeconds = c.maxInflightAudioSeconds
            maxInflightUploadBytes = c.maxInflightUploadBytes
            maxSampleRate = c.maxSampleRate
            maxDecodedSamples = c.decodeLimits.maxDecodedSamples ?? 0
            maxTexts = c.maxTexts
            maxTextBytes = c.maxTextBytes
            maxRequestTokens = c.maxRequestTokens
            labelCacheEntries = c.labelCacheEntries
        }

        enum CodingKeys: String, CodingKey {
            case maxConcurrentRequests = "max_concurrent_requests", maxClientBatchSize = "max_client_batch_size"
            case maxBatchChunks = "max_batch_chunks", payloadLimit = "payload_limit"
            case maxBatchDelayMs = "max_batch_delay_ms", maxBatchMs = "max_batch_ms"
            case maxAudioSeconds = "max_audio_seconds", maxRequestAudioSeconds = "max_request_audio_seconds"
            case maxInflightAudioSeconds = "max_inflight_audio_seconds", maxInflightUploadBytes =
                "max_inflight_upload_bytes"
            case maxSampleRate = "max_sample_rate", maxDecodedSamples = "max_decoded_samples"
            case maxTexts = "max_texts", maxTextBytes = "max_text_bytes", maxRequestTokens = "max_request_tokens"
            case labelCacheEntries = "label_cache_entries"
        }
    }

    struct Backend: Encodable {
        let engine, precision, openblasCore: String
        let threads: Int
        enum CodingKeys: String, CodingKey { case engine, precision, openblasCore = "openblas_core", threads }
    }

    struct Projection: Encodable {
        let kind: String
        let dim: Int
        init(_ p: AudioProjection) {
            kind = p.kind.rawValue
            dim = p.dim
        }
    }

    /// The M2D-CLAP text side (<model>/text/).
    struct TextEncoder: Encodable {
        let layers, hidden, heads, dim, vocabularySize, maxTokens: Int
        let pooling, projection, source, precision: String
        let cachedLabels: Int

        init(_ t: TextService) {
            precision = t.model.encoder.precisionName
            let c = t.model.config
            layers = c.layers
            hidden = c.hidden
            heads = c.heads
            dim = c.outputDim
            vocabularySize = t.model.tokenizer.vocabulary.count
            maxTokens = c.maxPositions
            pooling = c.pooling.rawValue
            projection = c.projection.rawValue
            source = (c.source as NSString).lastPathComponent
            cachedLabels = t.cache.count
        }

        enum CodingKeys: String, CodingKey {
            case layers, hidden, heads, dim, vocabularySize = "vocab_size", maxTokens = "max_tokens", pooling
            case projection, source, precision, cachedLabels = "cached_labels"
        }
    }

    let model: Model?
    let status: String
    let heads: [Head]
    let audioProjection: Projection?
    let textEncoder: TextEncoder?
    let limits: Limits
    let backend: Backend
    let version: String
    let sha: String
    let dockerLabel: String?

    func encode(to encoder: any Encoder) throws {
        // The model's fields sit at the top level (they predate the nested sections).
        if let model { try model.encode(to: encoder) }
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
        try c.encode(heads, forKey: .heads)
        try c.encode(audioProjection, forKey: .audioProjection)
        try c.encode(textEncoder, forKey: .textEncoder)
        // Limits stay flat at the top level too, as before, and also grouped.
        try limits.encode(to: encoder)
        try c.encode(limits, forKey: .limits)
        try c.encode(backend, forKey: .backend)
        try c.encode(version, forKey: .version)
        try c.encode(sha, forKey: .sha)
        try c.encode(dockerLabel, forKey: .dockerLabel)
    }

    enum CodingKeys: String, CodingKey {
        case status, heads, limits, backend, version, sha, dockerLabel = "docker_label"
        case audioProjection = "audio_projection", textEncoder = "text_encoder"
    }
}

extension InfoResponse.Model {
    enum CodingKeys: String, CodingKey {
        case modelID = "model_id", modelSHA = "model_sha", modelDtype = "model_dtype", embeddingDim = "embedding_dim"
        case sampleRate = "sample_rate", chunkSeconds = "chunk_seconds", frameHopMs = "frame_hop_ms"
        case flatFeatures = "flat_features", architecture, normStats = "norm_stats", provenance
    }
}

/// /health/* when healthy: {"status":"ok"}.
struct HealthyBody: Encodable {
    let status = "ok"
}

/// /health/ready when not: the status, the reason and the error fields every 503 carries.
struct UnhealthyBody: Encodable {
    let status: String
    let error: String
    let errorType = "unhealthy"
    let code = 503

    enum CodingKeys: String, CodingKey { case status, error, errorType = "error_type", code }
}

// AudioEmbedder: samples -> log-mel -> normalised -> chunks -> encoder -> frame and clip embeddings
// (docs/NUMERICS.md §3.2), offline and in order: m2d-embed, probes and benchmarks. Chunks of many clips
// share encoder calls of up to `maxBatchChunks` (the server's scheduler interleaves requests
// instead). Not thread-safe.
import M2DAudio
import M2DTensor

public final class AudioEmbedder: @unchecked Sendable {
    // SAFETY: owns an encoder workspace; callers serialise use.
    public let config: ModelConfig
    public let frontEnd: ModelFrontEnd
    public let encoder: any EncoderEngine
    /// Largest number of chunks per encoder call.
    public var maxBatchChunks: Int

    public convenience init(weights: EncoderWeights, maxBatchChunks: Int = 8, engine: GEMMEngine = GEMMEngine()) {
        self.init(encoder: ViTEncoder(weights: weights, engine: engine), maxBatchChunks: maxBatchChunks)
    }

    public init(encoder: any EncoderEngine, maxBatchChunks: Int = 8) {
        config = encoder.config
        frontEnd = ModelFrontEnd(config: encoder.config)
        self.encoder = encoder
        self.maxBatchChunks = max(1, maxBatchChunks)
    }

    /// Normalised log-mel (mels, T) of mono samples at the model rate.
    public func normalizedLogMel(_ samples: [Float]) -> FloatBuffer { frontEnd.normalizedLogMel(samples) }

    /// Embeds one clip of mono samples at the model rate.
    public func embed(_ samples: [Float], keepFrames: Bool = true) throws(EncoderError) -> Embedding {
        try embed([samples], keepFrames: keepFrames)[0]
    }

    /// Embeds several clips, batching their chunks together.
    public func embed(_ clips: [[Float]], keepFrames: Bool = true) throws(EncoderError) -> [Embedding] {
        let mels = clips.map { normalizedLogMel($0) }
        let durations = clips.map { Double($0.count) / Double(config.sampleRate) }
        return try embed(normalizedLogMels: mels, durations: durations, keepFrames: keepFrames)
    }

    /// Embeds normalised log-mels (mels, T_i); `durations` (seconds) set the timestamps.
    public func embed(
        normalizedLogMels mels: [FloatBuffer], durations: [Double],
        keepFrames: Bool = true
    ) throws(EncoderError) -> [Embedding] {
        let clips = zip(mels, durations).map {
            ClipEncoding(normalizedLogMel: $0, config: config, durationSeconds: $1, keepFrames: keepFrames)
        }
        // Every clip's chunks in order, cut into calls of maxBatchChunks (ragged batching).
        let queue = clips.flatMap { clip in [ClipEncoding](repeating: clip, count: clip.chunkCount) }
        var start = 0
        while start < queue.count {
            try ChunkBatch.encodeNext(Array(queue[start..<min(queue.count, start + maxBatchChunks)]), engine: encoder)
            start += maxBatchChunks
        }
        return clips.map { $0.finish() }
    }
}

// AudioEmbedder: samples -> log-mel -> normalised -> chunks -> ViT -> frame and clip embeddings
// (M2D-SPEC 3.2: portable_m2d.py encode_lms / get_timestamp_embeddings / get_scene_embeddings).
// Chunks of many clips are batched into as few encoder calls as possible. Not thread-safe.
import M2DAudio
import M2DTensor

public final class AudioEmbedder: @unchecked Sendable {
    // SAFETY: owns a ViTEncoder workspace; callers serialise use (one worker thread).
    public let config: ModelConfig
    public let frontEnd: ModelFrontEnd
    public let encoder: ViTEncoder
    /// Largest number of chunks per encoder call.
    public var maxBatchChunks: Int

    public init(weights: EncoderWeights, maxBatchChunks: Int = 8, engine: GEMMEngine = GEMMEngine()) {
        config = weights.config
        frontEnd = ModelFrontEnd(config: weights.config)
        encoder = ViTEncoder(weights: weights, engine: engine)
        self.maxBatchChunks = max(1, maxBatchChunks)
    }

    /// Normalised log-mel (mels, T) of mono samples at the model rate.
    public func normalizedLogMel(_ samples: [Float]) -> FloatBuffer { frontEnd.normalizedLogMel(samples) }

    /// Embeds one clip of mono samples at the model rate.
    public func embed(_ samples: [Float]) -> Embedding { embed([samples])[0] }

    /// Embeds several clips, batching their chunks together.
    public func embed(_ clips: [[Float]]) -> [Embedding] {
        let mels = clips.map { normalizedLogMel($0) }
        let durations = clips.map { Double($0.count) / Double(config.sampleRate) }
        return embed(normalizedLogMels: mels, durations: durations)
    }

    /// Embeds normalised log-mels (mels, T_i); `durations` (seconds) set the timestamps.
    public func embed(normalizedLogMels mels: [FloatBuffer], durations: [Double]) -> [Embedding] {
        let c = config, nMels = c.nMels
        let frameCounts = mels.map { $0.count / nMels }
        let plans = frameCounts.map { ChunkPlan(frames: $0, chunkFrames: c.chunkFrames, patchWidth: c.patchWidth) }
        // Chunks need zero padding at the end in the normalised domain: copy into padded buffers.
        let padded: [FloatBuffer] = zip(mels, plans).map { mel, plan in
            if plan.paddedFrames == plan.frames { return mel }
            let out = FloatBuffer(count: nMels * plan.paddedFrames)
            for m in 0..<nMels {
                (out.pointer + m * plan.paddedFrames).update(from: mel.pointer + m * plan.frames, count: plan.frames)
            }
            return out
        }
        var results = plans.map { plan in
            FrameSink(frameCount: c.flatFeatures ? plan.outputFrames * c.freqPatches : plan.outputFrames, dim: c.embeddingDim)
        }
        // Chunks of every clip and length share forwards of up to maxBatchChunks (ragged batching).
        struct Job { let clip: Int; let chunk: ChunkPlan.Chunk; let outputOffset: Int }
        var jobs: [Job] = []
        for (i, plan) in plans.enumerated() {
            var offset = 0
            for chunk in plan.chunks {
                jobs.append(Job(clip: i, chunk: chunk, outputOffset: offset))
                offset += chunk.timePatches
            }
        }
        var start = 0
        while start < jobs.count {
            let batch = jobs[start..<min(jobs.count, start + maxBatchChunks)]
            let inputs = batch.map { job in
                ViTEncoder.ChunkInput(base: padded[job.clip].pointer + job.chunk.startFrame,
                                      rowStride: plans[job.clip].paddedFrames, timePatches: job.chunk.timePatches)
            }
            let out = encoder.forward(inputs)
            for (b, job) in batch.enumerated() {
                let tokens = Tensor(base: out.tokens.base + out.rowStarts[b] * c.embedDim,
                                    shape: [encoder.tokenCount(timePatches: job.chunk.timePatches), c.embedDim])
                scatter(tokens: tokens, timePatches: job.chunk.timePatches, into: &results[job.clip], at: job.outputOffset)
            }
            start += maxBatchChunks
        }
        return zip(results, durations).map { sink, duration in sink.finish(durationSeconds: duration, flat: c.flatFeatures) }
    }

    /// Copies one chunk's tokens (1 + F*Tp, D) into clip frames: non-flat frame t gets
    /// [token(0,t) | ... | token(F-1,t)] (feature f*D + d); flat keeps f-major token rows.
    private func scatter(tokens: Tensor, timePatches Tp: Int, into sink: inout FrameSink, at offset: Int) {
        let F = config.freqPatches, D = config.embedDim
        sink.frames.withUnsafeMutableBufferPointer { dst in
            let base = dst.baseAddress!
            for f in 0..<F {
                for t in 0..<Tp {
                    let src = tokens.base + (1 + f * Tp + t) * D
                    let target = config.flatFeatures
                        ? base + (F * offset + f * Tp + t) * D
                        : base + (offset + t) * F * D + f * D
                    target.update(from: src, count: D)
                }
            }
        }
    }
}

/// Accumulates a clip's frames as its chunks come back.
struct FrameSink {
    var frames: [Float]
    let frameCount: Int, dim: Int

    init(frameCount: Int, dim: Int) {
        self.frameCount = frameCount
        self.dim = dim
        frames = [Float](repeating: 0, count: frameCount * dim)
    }

    func finish(durationSeconds: Double, flat: Bool) -> Embedding {
        var clip = [Double](repeating: 0, count: dim)
        for i in 0..<frameCount {
            for d in 0..<dim { clip[d] += Double(frames[i * dim + d]) }
        }
        let n = Double(max(frameCount, 1))
        let step = frameCount > 0 ? durationSeconds * 1000 / Double(frameCount) : 0
        return Embedding(frames: frames, frameCount: frameCount, dim: dim, clip: clip.map { Float($0 / n) },
                         timestampsMs: flat ? [] : (0..<frameCount).map { Float(step * Double($0)) },
                         durationSeconds: durationSeconds)
    }
}

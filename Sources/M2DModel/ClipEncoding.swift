// ClipEncoding: one clip on its way through the encoder (docs/NUMERICS.md §3.2, portable_m2d.py encode_lms /
// get_timestamp_embeddings / get_scene_embeddings): its normalised log-mel, zero-padded as the
// ChunkPlan says, the chunks still to encode, and where their tokens go. The clip embedding is a
// running sum over frames in frame order (the same additions as averaging stored frames), so a
// clip-only request never holds its frames. Not thread-safe: one worker encodes it.
import M2DTensor

public final class ClipEncoding: @unchecked Sendable {
    // SAFETY: touched by one thread at a time (the preprocessing thread that makes it, then the
    // inference worker, then the thread that reads the result).
    public let config: ModelConfig
    public let plan: ChunkPlan
    public let durationSeconds: Double
    public let keepsFrames: Bool
    /// (mels, paddedFrames).
    private var mel: FloatBuffer?
    private var sums: [Double]
    private var frames: [Float]
    private var nextChunk = 0
    private var encodedChunks = 0

    /// `normalizedLogMel` is (mels, T); `keepFrames` keeps every frame embedding (granularity=frames).
    public init(normalizedLogMel: FloatBuffer, config: ModelConfig, durationSeconds: Double, keepFrames: Bool) {
        self.config = config
        let T = normalizedLogMel.count / config.nMels
        plan = ChunkPlan(frames: T, chunkFrames: config.chunkFrames, patchWidth: config.patchWidth)
        self.durationSeconds = durationSeconds
        keepsFrames = keepFrames
        if plan.paddedFrames == plan.frames {
            mel = normalizedLogMel
        } else {
            // Chunks need zero padding at the end in the normalised domain.
            let padded = FloatBuffer(count: config.nMels * plan.paddedFrames)
            for m in 0..<config.nMels {
                (padded.pointer + m * plan.paddedFrames).update(from: normalizedLogMel.pointer + m * T, count: T)
            }
            mel = padded
        }
        sums = [Double](repeating: 0, count: config.embeddingDim)
        frames = keepFrames ? [Float](repeating: 0, count: Self.frameCount(plan, config) * config.embeddingDim) : []
    }

    static func frameCount(_ plan: ChunkPlan, _ c: ModelConfig) -> Int {
        c.flatFeatures ? plan.outputFrames * c.freqPatches : plan.outputFrames
    }

    public var frameCount: Int { Self.frameCount(plan, config) }
    public var chunkCount: Int { plan.chunks.count }
    /// Chunks not yet handed to the encoder.
    public var remainingChunks: Int { plan.chunks.count - nextChunk }
    public var isComplete: Bool { encodedChunks == plan.chunks.count }
    /// Bytes this clip holds now (log-mel until encoded, plus frames when kept).
    public var residentBytes: Int { 4 * ((mel?.count ?? 0) + frames.count) + 8 * sums.count }

    /// Hands out the next chunk (in order); its tokens must come back through `accept` in that order.
    func takeChunk() -> (index: Int, input: EncoderChunk) {
        precondition(nextChunk < plan.chunks.count, "no chunk left")
        let chunk = plan.chunks[nextChunk]
        defer { nextChunk += 1 }
        let input = EncoderChunk(
            base: mel!.pointer + chunk.startFrame, rowStride: plan.paddedFrames,
            timePatches: chunk.timePatches)
        return (nextChunk, input)
    }

    /// Adds chunk `index`'s tokens (1 + F*Tp, D): non-flat frame t is [token(0,t) | ... | token(F-1,t)]
    /// (feature f*D + d); flat frames are the f-major token rows.
    func accept(tokens: UnsafePointer<Float>, chunk index: Int) {
        precondition(index == encodedChunks, "chunks must come back in order")
        let c = config, F = c.freqPatches, D = c.embedDim, Tp = plan.chunks[index].timePatches
        let offset = plan.outputOffsets[index], dim = c.embeddingDim
        sums.withUnsafeMutableBufferPointer { sum in
            frames.withUnsafeMutableBufferPointer { out in
                func add(frame: Int, feature: Int, from src: UnsafePointer<Float>) {
                    for d in 0..<D { sum[feature + d] += Double(src[d]) }
                    if keepsFrames { (out.baseAddress! + frame * dim + feature).update(from: src, count: D) }
                }
                if c.flatFeatures {
                    for f in 0..<F {
                        for t in 0..<Tp {
                            add(frame: F * offset + f * Tp + t, feature: 0, from: tokens + (1 + f * Tp + t) * D)
                        }
                    }
                } else {
                    for t in 0..<Tp {
                        for f in 0..<F { add(frame: offset + t, feature: f * D, from: tokens + (1 + f * Tp + t) * D) }
                    }
                }
            }
        }
        encodedChunks += 1
        if isComplete { mel = nil }
    }

    /// The result, once every chunk came back.
    public func finish() -> Embedding {
        precondition(isComplete, "clip not fully encoded")
        let n = Double(max(frameCount, 1))
        let step = frameCount > 0 ? durationSeconds * 1000 / Double(frameCount) : 0
        return Embedding(
            frames: frames, frameCount: frameCount, dim: config.embeddingDim, clip: sums.map { Float($0 / n) },
            timestampsMs: config.flatFeatures ? [] : (0..<frameCount).map { Float(step * Double($0)) },
            durationSeconds: durationSeconds)
    }
}

public enum ChunkBatch {
    /// Encodes the next chunk of each entry of `clips` in one call (a clip listed k times gives its
    /// next k chunks, in order) and hands the tokens back to their clips. Returns the time patches
    /// encoded (the work done: a clip's last chunk is usually short).
    @discardableResult
    public static func encodeNext(_ clips: [ClipEncoding], engine: any EncoderEngine) throws(EncoderError) -> Int {
        let taken = clips.map { $0.takeChunk() }
        let out = try engine.encode(taken.map(\.input))
        let D = engine.config.embedDim
        for (b, clip) in clips.enumerated() {
            clip.accept(tokens: out.tokens.base + out.rowStarts[b] * D, chunk: taken[b].index)
        }
        return taken.reduce(0) { $0 + $1.input.timePatches }
    }
}

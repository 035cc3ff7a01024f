// Embedding: one clip's result. Arrays are fine here: this is the edge handed to JSON / npy writers.

public struct Embedding: Sendable {
    /// Row-major (frameCount, dim) when frames were kept, else empty. Non-flat: dim = D*F, feature
    /// f*D + d. Flat: tokens f-major per chunk, dim = D.
    public var frames: [Float]
    public var frameCount: Int
    public var dim: Int
    /// Mean over frames (dim).
    public var clip: [Float]
    /// Start of each frame in ms (empty for flat features).
    public var timestampsMs: [Float]
    /// Input duration in seconds at the model rate.
    public var durationSeconds: Double

    public var hasFrames: Bool { frames.count == frameCount * dim && frameCount > 0 }
    public func frame(_ i: Int) -> ArraySlice<Float> { frames[(i * dim)..<((i + 1) * dim)] }
}

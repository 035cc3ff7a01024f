// InferenceJob: one request's clips waiting for the encoder, with the order their chunks must be
// encoded in, the time the request waited, and the completion the scheduler calls once.
import Foundation
import M2DModel

public struct JobTimings: Sendable {
    /// Enqueue to the first batch that held one of its chunks.
    public var queueNanos: UInt64 = 0
    /// Time of the batches that held its chunks.
    public var inferenceNanos: UInt64 = 0
}

public final class InferenceJob: @unchecked Sendable {
    // SAFETY: the cursor and timings are touched only by the scheduler under its lock, or by its
    // worker thread between taking the job into a batch and finishing that batch.
    public typealias Completion = @Sendable (Result<[Embedding], ServerError>, JobTimings) -> Void

    let clips: [ClipEncoding]
    /// One entry per chunk, clip by clip: the round-robin takes them in this order.
    let order: [ClipEncoding]
    let completion: Completion
    let enqueuedNanos = DispatchTime.now().uptimeNanoseconds
    var taken = 0
    var timings = JobTimings()
    var started = false
    var cancelled = false
    var finished = false

    public init(clips: [ClipEncoding], completion: @escaping Completion) {
        self.clips = clips
        order = clips.flatMap { [ClipEncoding](repeating: $0, count: $0.chunkCount) }
        self.completion = completion
    }

    public var chunkCount: Int { order.count }
    var remaining: Int { order.count - taken }
    var isComplete: Bool { taken == order.count && clips.allSatisfy(\.isComplete) }
}

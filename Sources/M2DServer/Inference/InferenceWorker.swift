// InferenceWorker: one thread owns the encoder. Jobs (normalised log-mels of one request) wait in a
// bounded queue; the worker takes as many as fit in `maxBatchChunks`, waiting at most
// `maxBatchDelay` for more, and runs them in one batched forward (TEI's backend-thread pattern).
import Foundation
import M2DModel
import M2DTensor

public final class InferenceWorker: @unchecked Sendable {
    // SAFETY: the queue and flags are guarded by `condition`; the embedder is used only by the
    // worker thread.
    public struct Result: Sendable {
        public var embeddings: [Embedding]
        public var queueNanos: UInt64
        public var inferenceNanos: UInt64
        public var batchChunks: Int
    }

    struct Job {
        let mels: [FloatBuffer]
        let durations: [Double]
        let chunks: Int
        let enqueued: UInt64
        let completion: @Sendable (Result) -> Void
    }

    private let embedder: AudioEmbedder
    private let maxBatchChunks: Int
    private let maxDelayNanos: UInt64
    private let capacity: Int
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var stopping = false
    private var thread: Thread?
    private var _lastProgress = Clock.nanos
    private var _busy = false
    /// Called after each batch with (chunks, seconds) for metrics.
    public var onBatch: (@Sendable (Int, Double) -> Void)?

    public init(embedder: AudioEmbedder, maxBatchChunks: Int, maxBatchDelayMs: Double, capacity: Int) {
        self.embedder = embedder
        self.maxBatchChunks = max(1, maxBatchChunks)
        self.maxDelayNanos = UInt64(max(0, maxBatchDelayMs) * 1e6)
        self.capacity = max(1, capacity)
        embedder.maxBatchChunks = self.maxBatchChunks
        embedder.encoder.reserve(batch: self.maxBatchChunks)
    }

    public func start() {
        let t = Thread { [unowned self] in self.loop() }
        t.name = "m2d-inference"
        t.stackSize = 8 << 20
        thread = t
        t.start()
    }

    /// Chunks each clip costs.
    public func chunkCount(_ mel: FloatBuffer) -> Int {
        let c = embedder.config
        return ChunkPlan(frames: mel.count / c.nMels, chunkFrames: c.chunkFrames, patchWidth: c.patchWidth).chunks.count
    }

    /// Enqueues one request's clips; false when the queue is full.
    public func submit(mels: [FloatBuffer], durations: [Double], completion: @escaping @Sendable (Result) -> Void) -> Bool {
        let chunks = mels.reduce(0) { $0 + chunkCount($1) }
        condition.lock()
        defer { condition.unlock() }
        guard !stopping, queue.count < capacity else { return false }
        queue.append(Job(mels: mels, durations: durations, chunks: chunks, enqueued: Clock.nanos, completion: completion))
        condition.signal()
        return true
    }

    public var engineSummary: String { embedder.encoder.engine.summary }

    public var queueDepth: Int { condition.lock(); defer { condition.unlock() }; return queue.count }

    /// Seconds since the worker last finished a batch, if it has work waiting (for health).
    public var stalledSeconds: Double {
        condition.lock(); defer { condition.unlock() }
        return (queue.isEmpty && !_busy) ? 0 : Clock.seconds(Clock.nanos &- _lastProgress)
    }

    /// Finishes queued work, then stops the thread.
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        while let t = thread, !t.isFinished { usleep(1000) }
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && stopping { condition.unlock(); return }
            // Fill the batch, waiting at most maxDelay from the first job for more work.
            let deadline = Date(timeIntervalSinceNow: Double(maxDelayNanos) / 1e9)
            while queue.reduce(0, { $0 + $1.chunks }) < maxBatchChunks && !stopping {
                if !condition.wait(until: deadline) { break }
            }
            var batch: [Job] = [queue.removeFirst()]
            var chunks = batch[0].chunks
            while let next = queue.first, chunks + next.chunks <= maxBatchChunks {
                batch.append(queue.removeFirst())
                chunks += next.chunks
            }
            _busy = true
            condition.unlock()

            let start = Clock.nanos
            let embeddings = embedder.embed(normalizedLogMels: batch.flatMap(\.mels), durations: batch.flatMap(\.durations))
            let elapsed = Clock.nanos &- start
            onBatch?(chunks, Double(elapsed) / 1e9)
            var offset = 0
            for job in batch {
                let mine = Array(embeddings[offset..<(offset + job.mels.count)])
                offset += job.mels.count
                let result = Result(embeddings: mine, queueNanos: start &- job.enqueued, inferenceNanos: elapsed, batchChunks: chunks)
                let completion = job.completion
                DispatchQueue.global().async { completion(result) }
            }
            condition.lock()
            _busy = false
            _lastProgress = Clock.nanos
            condition.unlock()
        }
    }
}

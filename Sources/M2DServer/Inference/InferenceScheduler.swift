// InferenceScheduler: one thread owns the encoder (TEI's backend-thread pattern). Requests wait as
// jobs; each batch takes chunks from every waiting job in turn, up to `maxBatchChunks` and about
// `maxBatchSeconds` of work (from the measured time per patch), waiting at
// most `maxBatchDelay` for more work. A short request beside a long one therefore rides in the
// next batch instead of waiting for the long one to finish, and batches stay full. Cancelled jobs
// lose their queued chunks before the next batch. Health: "stalled" means work is waiting and no
// batch has finished for `stallTimeout`; three failed batches in a row make it "failing" until a
// probe batch succeeds. Text jobs (TextJob) share the thread: when both kinds wait, text groups and audio
// batches take turns (InferenceScheduler+Text.swift).
import Foundation
import M2DModel
import M2DTensor
import M2DText

public final class InferenceScheduler: @unchecked Sendable {
    // SAFETY: every field but `engine` is guarded by `condition`; the engine is used only by the
    // scheduler's thread. The text side's fields are internal for InferenceScheduler+Text.swift.
    public enum Health: Equatable, Sendable {
        case ok
        case stalled(seconds: Double)
        case failing(String)
    }

    public struct Hooks: Sendable {
        /// After each batch: (chunks, seconds).
        public var batch: @Sendable (Int, Double) -> Void = { _, _ in }
        /// A cancelled job left: (its chunks that were never encoded).
        public var cancelled: @Sendable (Int) -> Void = { _ in }
        public init() {}
    }

    private let engine: any EncoderEngine
    private let maxBatchChunks: Int
    /// A batch cannot be interrupted, so a request that arrives waits for the one running: batches
    /// of about this many seconds bound that wait. On CPUs a few chunks already fill the GEMMs.
    private let maxBatchSeconds: Double
    /// Measured seconds per time patch (moving average over batches), nil before the first batch.
    /// Per patch, not per chunk: short clips' chunks are a fraction of a full one, and a server that
    /// has only seen them would otherwise make its first long batch several times too big.
    private var secondsPerTimePatch: Double?
    private let maxDelayNanos: UInt64
    let capacity: Int
    private let stallNanos: UInt64
    private let probeIntervalNanos: UInt64 = 5_000_000_000
    private let hooks: Hooks
    let condition = NSCondition()
    var active: [InferenceJob] = []
    var textJobs: [TextJob] = []
    /// Whether the next turn goes to text when audio waits too.
    var textTurn = false
    var stopping = false
    private var thread: Thread?
    var lastProgress = DispatchTime.now().uptimeNanoseconds
    private var consecutiveFailures = 0
    private var lastFailure = ""
    private var lastProbe: UInt64 = 0

    public init(
        engine: any EncoderEngine, maxBatchChunks: Int, maxBatchMs: Double = 1000, maxBatchDelayMs: Double,
        capacity: Int,
        stallTimeoutSeconds: Double = 30, hooks: Hooks = Hooks()
    ) {
        self.engine = engine
        self.maxBatchChunks = max(1, maxBatchChunks)
        maxBatchSeconds = max(0, maxBatchMs) / 1000
        maxDelayNanos = UInt64(max(0, maxBatchDelayMs) * 1e6)
        self.capacity = max(1, capacity)
        stallNanos = UInt64(max(1, stallTimeoutSeconds) * 1e9)
        self.hooks = hooks
        engine.reserve(chunks: self.maxBatchChunks)
    }

    public var engineSummary: String { engine.summary }
    public var computeThreads: Int { engine.computeThreads }
    public var engineWeightBytes: Int { engine.engineWeightBytes }

    public func start() {
        let t = Thread { [unowned self] in self.loop() }
        t.name = "m2d-inference"
        t.stackSize = 8 << 20
        thread = t
        t.start()
    }

    /// Enqueues a job; false when `capacity` jobs wait already or the scheduler is stopping.
    public func submit(_ job: InferenceJob) -> Bool { enqueue { active.append(job) } }

    /// Runs `append` under the lock when a job may join (audio and text jobs share `capacity`), and wakes the
    /// thread.
    func enqueue(_ append: () -> Void) -> Bool {
        condition.withLock {
            guard !stopping, active.count + textJobs.count < capacity else { return false }
            if active.isEmpty && textJobs.isEmpty { lastProgress = DispatchTime.now().uptimeNanoseconds }
            append()
            condition.signal()
            return true
        }
    }

    /// Drops the job's chunks that have not reached the encoder; its completion is not called.
    public func cancel(_ job: InferenceJob) {
        condition.withLock {
            job.cancelled = true
            condition.signal()
        }
    }

    /// Jobs waiting or in progress.
    public var queueDepth: Int { condition.withLock { active.count + textJobs.count } }
    /// Chunks not yet handed to the encoder.
    public var pendingChunks: Int { condition.withLock { active.reduce(0) { $0 + ($1.cancelled ? 0 : $1.remaining) } } }

    public var health: Health {
        condition.withLock {
            if consecutiveFailures >= 3 { return .failing(lastFailure) }
            let waiting = active.contains { !$0.cancelled } || textJobs.contains { !$0.cancelled }
            let idle = Double(DispatchTime.now().uptimeNanoseconds &- lastProgress) / 1e9
            return waiting && idle > Double(stallNanos) / 1e9 ? .stalled(seconds: idle) : .ok
        }
    }

    /// Stops taking work, lets the current batch finish (at most `timeout` seconds), then returns.
    public func stop(timeout: Double = 30) {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while let t = thread, !t.isFinished, Date() < deadline { usleep(2000) }
    }

    // MARK: the worker thread

    private func loop() {
        while let batch = nextBatch() {
            if let group = batch.text {
                let start = DispatchTime.now().uptimeNanoseconds
                var failure: TextModelError?
                do { try group.run() } catch { failure = error }
                finishText(
                    group, failure: failure, start: start, elapsed: DispatchTime.now().uptimeNanoseconds &- start)
                continue
            }
            let start = DispatchTime.now().uptimeNanoseconds
            let outcome: Result<Int, EncoderError>
            do { outcome = .success(try ChunkBatch.encodeNext(batch.slots, engine: engine)) } catch {
                outcome = .failure(error)
            }
            let elapsed = DispatchTime.now().uptimeNanoseconds &- start
            if !batch.slots.isEmpty { hooks.batch(batch.slots.count, Double(elapsed) / 1e9) }
            finish(batch, outcome: outcome, start: start, elapsed: elapsed)
        }
    }

    private struct Batch {
        var slots: [ClipEncoding] = []
        var jobs: [InferenceJob] = []
        var isProbe = false
        /// A text group instead of audio chunks.
        var text: TextGroup?
    }

    /// Waits for work and takes the next batch; nil once stopping with nothing left.
    private func nextBatch() -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            dropCancelled()
            if stopping && active.isEmpty && textJobs.isEmpty { return nil }
            if !textJobs.isEmpty && (active.isEmpty || textTurn) {
                textTurn = false
                return Batch(text: nextTextGroup())
            }
            if !active.isEmpty { break }
            if consecutiveFailures >= 3 {
                let now = DispatchTime.now().uptimeNanoseconds
                if now &- lastProbe >= probeIntervalNanos { lastProbe = now; return probeBatch() }
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(probeIntervalNanos) / 1e9))
            } else {
                condition.wait()
            }
        }
        // Fill the batch, waiting at most maxDelay for more work.
        let deadline = Date(timeIntervalSinceNow: Double(maxDelayNanos) / 1e9)
        let cap = batchCap
        while active.reduce(0, { $0 + $1.remaining }) < cap && !stopping {
            if !condition.wait(until: deadline) { break }
        }
        dropCancelled()
        textTurn = !textJobs.isEmpty
        var batch = Batch()
        // Round robin: one chunk from each job in arrival order, again and again.
        var progressed = true
        while batch.slots.count < cap && progressed {
            progressed = false
            for job in active where job.remaining > 0 && batch.slots.count < cap {
                batch.slots.append(job.order[job.taken])
                job.taken += 1
                if !batch.jobs.contains(where: { $0 === job }) { batch.jobs.append(job) }
                progressed = true
            }
        }
        return batch
    }

    /// Chunks the next batch may take: `maxBatchChunks`, fewer when that many full chunks would run
    /// past `maxBatchSeconds`.
    private var batchCap: Int {
        guard let secondsPerTimePatch, secondsPerTimePatch > 0, maxBatchSeconds > 0 else { return maxBatchChunks }
        let fullChunk = secondsPerTimePatch * Double(engine.config.gridTimePatches)
        return min(maxBatchChunks, max(1, Int(maxBatchSeconds / fullChunk)))
    }

    /// One zero chunk, to learn whether a failing engine works again.
    private func probeBatch() -> Batch {
        let c = engine.config
        let zeros = FloatBuffer(count: c.nMels * c.chunkFrames)
        let clip = ClipEncoding(normalizedLogMel: zeros, config: c, durationSeconds: 1, keepFrames: false)
        return Batch(slots: [ClipEncoding](repeating: clip, count: clip.chunkCount), jobs: [], isProbe: true)
    }

    private func dropCancelled() {
        active.removeAll { job in
            guard job.cancelled else { return false }
            hooks.cancelled(job.remaining)
            return true
        }
        textJobs.removeAll(where: \.cancelled)
    }


    private func finish(_ batch: Batch, outcome: Result<Int, EncoderError>, start: UInt64, elapsed: UInt64) {
        var done: [(InferenceJob, Result<[Embedding], ServerError>)] = []
        condition.withLock {
            lastProgress = DispatchTime.now().uptimeNanoseconds
            switch outcome {
            case let .success(timePatches):
                consecutiveFailures = 0
                if timePatches > 0 {
                    let perPatch = Double(elapsed) / 1e9 / Double(timePatches)
                    secondsPerTimePatch = secondsPerTimePatch.map { 0.7 * $0 + 0.3 * perPatch } ?? perPatch
                }
                for job in batch.jobs {
                    if !job.started { job.started = true; job.timings.queueNanos = start &- job.enqueuedNanos }
                    job.timings.inferenceNanos &+= elapsed
                    if job.isComplete, !job.cancelled { done.append((job, .success(job.clips.map { $0.finish() }))) }
                }
            case let .failure(error):
                consecutiveFailures += 1
                lastFailure = error.description
                // A job whose chunks failed cannot complete: answer it now.
                for job in batch.jobs where !job.cancelled { done.append((job, .failure(.backend(error.description)))) }
            }
            for (job, _) in done { job.finished = true }
            active.removeAll { $0.finished }
        }
        for (job, result) in done {
            let timings = job.timings, completion = job.completion
            DispatchQueue.global().async { completion(result, timings) }
        }
    }
}

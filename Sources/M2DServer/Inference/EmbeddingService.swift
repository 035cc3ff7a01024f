// EmbeddingService: inputs -> decoded, 16 kHz mono, normalised log-mel (a bounded preprocessing
// stage, off the daemon threads) -> the inference worker -> embeddings. One service per model.
import Foundation
import M2DAudio
import M2DModel
import M2DTensor

public struct EmbeddedInput: Sendable {
    public var input: AudioInput
    public var prepared: PreparedAudio
    public var embedding: Embedding
}

public struct ServiceTimings: Sendable {
    public var decodeNanos: UInt64 = 0
    public var queueNanos: UInt64 = 0
    public var inferenceNanos: UInt64 = 0
}

public final class EmbeddingService: @unchecked Sendable {
    // SAFETY: immutable after init; the worker and semaphore are thread-safe.
    public let model: LoadedModel
    public let worker: InferenceWorker
    private let frontEnd: ModelFrontEnd
    private let preprocessSlots: DispatchSemaphore
    private let maxAudioSeconds: Double

    public init(model: LoadedModel, config: ServerConfig) {
        self.model = model
        let cores = config.threads ?? ProcessInfo.processInfo.activeProcessorCount
        worker = InferenceWorker(embedder: AudioEmbedder(weights: model.weights), maxBatchChunks: config.maxBatchChunks,
                                 maxBatchDelayMs: config.maxBatchDelayMs, capacity: config.maxConcurrentRequests)
        frontEnd = ModelFrontEnd(config: model.config)
        preprocessSlots = DispatchSemaphore(value: max(1, cores))
        maxAudioSeconds = config.maxAudioSeconds
    }

    public var config: ModelConfig { model.config }

    /// Decodes and embeds `inputs`; blocks the calling (non-daemon) thread until done.
    public func embed(_ inputs: [AudioInput], timings: inout ServiceTimings) throws(ServerError) -> [EmbeddedInput] {
        let decodeStart = Clock.nanos
        var prepared: [PreparedAudio] = []
        var mels: [FloatBuffer] = []
        preprocessSlots.wait()
        defer { preprocessSlots.signal() }
        for (i, input) in inputs.enumerated() {
            do {
                let audio = try AudioPipeline.prepare(input.bytes, sampleRate: config.sampleRate, maxSeconds: maxAudioSeconds)
                prepared.append(audio)
                mels.append(frontEnd.normalizedLogMel(audio.samples))
            } catch {
                let mapped = ServerError.from(error)
                let prefix = inputs.count > 1 || !input.name.hasPrefix("input") ? "input \(i) (\(input.name)): " : ""
                throw Self.prefixed(mapped, prefix)
            }
        }
        timings.decodeNanos = Clock.nanos &- decodeStart
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: InferenceWorker.Result?
        let accepted = worker.submit(mels: mels, durations: prepared.map(\.durationSeconds)) { result in
            outcome = result
            done.signal()
        }
        if !accepted { throw .overloaded }
        done.wait()
        guard let outcome else { throw .backend("inference produced no result") }
        timings.queueNanos = outcome.queueNanos
        timings.inferenceNanos = outcome.inferenceNanos
        return (0..<inputs.count).map { EmbeddedInput(input: inputs[$0], prepared: prepared[$0], embedding: outcome.embeddings[$0]) }
    }

    static func prefixed(_ e: ServerError, _ p: String) -> ServerError {
        switch e {
        case let .invalidAudio(m): .invalidAudio(p + m)
        case let .empty(m): .empty(p + m)
        case let .payloadTooLarge(m): .payloadTooLarge(p + m)
        case let .validation(m, param): .validation(p + m, param: param)
        default: e
        }
    }
}


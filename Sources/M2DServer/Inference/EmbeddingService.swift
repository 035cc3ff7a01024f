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
    /// Decoding and the front end: as wide as the cores, never on the daemon or worker threads.
    private let preprocess: OperationQueue
    private let maxAudioSeconds: Double

    /// The engine the service's encoder runs on. It is the weights' only reader, so oneDNN keeps one
    /// copy of each: pass it to `ModelDirectory.loadAny` to hand the weights over while loading.
    public static func makeEngine(_ config: ServerConfig) throws(ServerError) -> GEMMEngine {
        do { return try GEMMEngine(backend: config.backend, precision: config.precision, ownsWeights: true) } catch { throw .backend(error.description) }
    }

    /// `engine` is the one from `makeEngine(config)` that loaded `model`.
    public init(model: LoadedModel, config: ServerConfig, engine: GEMMEngine) {
        self.model = model
        let cores = config.threads ?? ProcessInfo.processInfo.activeProcessorCount
        worker = InferenceWorker(embedder: AudioEmbedder(weights: model.weights, engine: engine), maxBatchChunks: config.maxBatchChunks,
                                 maxBatchDelayMs: config.maxBatchDelayMs, capacity: config.maxConcurrentRequests)
        frontEnd = ModelFrontEnd(config: model.config)
        preprocess = OperationQueue()
        preprocess.name = "m2d-preprocess"
        preprocess.maxConcurrentOperationCount = max(1, cores)
        maxAudioSeconds = config.maxAudioSeconds
    }

    public var config: ModelConfig { model.config }
    /// e.g. "onednn 2.6.3 brg:avx512_core fp32".
    public var engineSummary: String { worker.engineSummary }

    public typealias Completion = @Sendable (Result<[EmbeddedInput], ServerError>, ServiceTimings) -> Void

    /// Decodes and embeds `inputs` without blocking the caller: decoding runs on the preprocessing
    /// queue, the encoder on the inference worker; `completion` runs once, on a global queue.
    public func embed(_ inputs: [AudioInput], completion: @escaping Completion) {
        let model = config, limit = maxAudioSeconds, frontEnd = self.frontEnd, worker = self.worker
        preprocess.addOperation {
            var timings = ServiceTimings()
            let decodeStart = Clock.nanos
            var prepared: [PreparedAudio] = []
            var mels: [FloatBuffer] = []
            for (i, input) in inputs.enumerated() {
                do {
                    let audio = try AudioPipeline.prepare(input.bytes, sampleRate: model.sampleRate, maxSeconds: limit)
                    prepared.append(audio)
                    mels.append(frontEnd.normalizedLogMel(audio.samples))
                } catch {
                    let prefix = inputs.count > 1 || !input.name.hasPrefix("input") ? "input \(i) (\(input.name)): " : ""
                    completion(.failure(Self.prefixed(ServerError.from(error), prefix)), timings)
                    return
                }
            }
            timings.decodeNanos = Clock.nanos &- decodeStart
            let decoded = prepared, decodeTimings = timings
            let accepted = worker.submit(mels: mels, durations: decoded.map(\.durationSeconds)) { result in
                var t = decodeTimings
                t.queueNanos = result.queueNanos
                t.inferenceNanos = result.inferenceNanos
                let items = (0..<inputs.count).map { EmbeddedInput(input: inputs[$0], prepared: decoded[$0], embedding: result.embeddings[$0]) }
                completion(.success(items), t)
            }
            if !accepted { completion(.failure(.overloaded), timings) }
        }
    }

    /// Blocking form for threads that may block (start-up warm-up, tools); never call it on a
    /// dispatch queue that the completion needs.
    public func embedBlocking(_ inputs: [AudioInput]) throws(ServerError) -> [EmbeddedInput] {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<[EmbeddedInput], ServerError> = .failure(.backend("no result"))
        embed(inputs) { result, _ in
            outcome = result
            done.signal()
        }
        done.wait()
        return try outcome.get()
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


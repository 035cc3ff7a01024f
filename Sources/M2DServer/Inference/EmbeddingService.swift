// EmbeddingService: a request's audio -> headers checked against the limits -> a share of the
// in-flight audio budget -> decoded, mono, model rate -> normalised log-mel -> one InferenceJob.
// Decoding runs on a preprocessing queue as wide as the cores, never on the daemon or inference
// threads. Each input's bytes and samples are dropped as soon as its log-mel exists, so a request
// in the queue holds only log-mel (and, for frames, the frames it will return).
import Foundation
import M2DAudio
import M2DModel

public struct AudioInput: Sendable {
    public var name: String
    public var bytes: [UInt8]

    public init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }
}

/// What the response says about an input besides its embedding.
public struct ClipFacts: Sendable {
    public var durationSeconds: Double
    public var inputSampleRate: Int
    public var inputChannels: Int
    public var format: String
}

public struct EmbeddedClip: Sendable {
    public var facts: ClipFacts
    public var embedding: Embedding
}

public struct ServiceTimings: Sendable {
    public var decodeNanos: UInt64 = 0
    public var queueNanos: UInt64 = 0
    public var inferenceNanos: UInt64 = 0
}

public final class EmbeddingService: @unchecked Sendable {
    // SAFETY: immutable after init; the scheduler, budget and queue are thread-safe.
    public typealias Completion = @Sendable (Result<[EmbeddedClip], ServerError>, ServiceTimings) -> Void

    public let model: ModelConfig
    public let scheduler: InferenceScheduler
    /// Audio in flight, in milliseconds charged (a frames request is charged 4x: its frames hold
    /// three times the memory of its log-mel).
    public let audioBudget: Budget
    public static let framesCharge = 4
    private let frontEnd: ModelFrontEnd
    private let preprocess: OperationQueue
    private let limits: DecodeLimits
    private let maxRequestSeconds: Double

    public init(model: ModelConfig, scheduler: InferenceScheduler, config: ServerConfig) {
        self.model = model
        self.scheduler = scheduler
        frontEnd = ModelFrontEnd(config: model)
        preprocess = OperationQueue()
        preprocess.name = "m2d-preprocess"
        preprocess.maxConcurrentOperationCount = max(1, config.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        limits = config.decodeLimits
        maxRequestSeconds = config.maxRequestAudioSeconds
        audioBudget = Budget(capacity: Int(config.maxInflightAudioSeconds * 1000))
    }

    /// The inputs of one request; bytes are dropped as they are decoded.
    private final class Inputs: @unchecked Sendable {
        // SAFETY: used by the one preprocessing operation that owns it.
        var items: [AudioInput]
        var upload: Budget.Reservation?
        init(_ items: [AudioInput], upload: Budget.Reservation?) {
            self.items = items
            self.upload = upload
        }
    }

    /// Decodes and embeds without blocking the caller; `completion` runs once (not at all when the
    /// ticket is cancelled before the job is done).
    public func embed(
        _ inputs: [AudioInput], keepFrames: Bool, ticket: RequestTicket, upload: Budget.Reservation? = nil,
        completion: @escaping Completion
    ) {
        let box = Inputs(inputs, upload: upload)
        preprocess.addOperation { [self] in
            var timings = ServiceTimings()
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                guard let (clips, facts) = try prepare(box, keepFrames: keepFrames, ticket: ticket) else { return }
                timings.decodeNanos = DispatchTime.now().uptimeNanoseconds &- start
                let decodeTimings = timings
                let job = InferenceJob(clips: clips) { result, jobTimings in
                    var t = decodeTimings
                    t.queueNanos = jobTimings.queueNanos
                    t.inferenceNanos = jobTimings.inferenceNanos
                    completion(result.map { zip(facts, $0).map { EmbeddedClip(facts: $0, embedding: $1) } }, t)
                }
                guard scheduler.submit(job) else {
                    throw ServerError.unavailable(status: "draining", reason: "the inference queue takes no more work")
                }
                ticket.whenCancelled { [scheduler] in scheduler.cancel(job) }
            } catch {
                completion(.failure(ServerError.from(error)), timings)
            }
        }
    }

    /// Checks every header, reserves the budget, then decodes input by input. nil when cancelled.
    private func prepare(
        _ box: Inputs, keepFrames: Bool, ticket: RequestTicket
    ) throws(ServerError)
        -> ([ClipEncoding], [ClipFacts])?
    {
        let many = box.items.count > 1
        func label(_ i: Int) -> String {
            many || !box.items[i].name.hasPrefix("input") ? "input \(i) (\(box.items[i].name)): " : ""
        }
        var declared: [Double] = []
        for i in box.items.indices {
            do {
                let header = try AudioDecoder().header(of: box.items[i].bytes)
                try AudioDecoder.validate(header, limits: limits)
                declared.append(header.frames > 0 ? header.durationSeconds : 0)
            } catch { throw ServerError.from(error).prefixed(label(i)) }
        }
        let weight = keepFrames ? Self.framesCharge : 1
        let claimed = declared.reduce(0, +)
        if claimed > maxRequestSeconds { throw tooMuchAudio(claimed) }
        let charge = Int((claimed * 1000).rounded(.up)) * weight
        if charge > audioBudget.capacity {
            throw .payloadTooLarge(
                "the request's \(Self.format(claimed)) s of audio need more than the whole in-flight budget "
                    + "(\(Self.format(Double(audioBudget.capacity) / 1000 / Double(weight))) s for this granularity, "
                    + "--max-inflight-audio-seconds)")
        }
        guard let reservation = audioBudget.reserve(charge) else { throw budgetFull() }
        ticket.hold(reservation)
        var clips: [ClipEncoding] = [], facts: [ClipFacts] = []
        var total = 0.0
        for i in box.items.indices {
            if ticket.isCancelled { return nil }
            let prepared: PreparedAudio
            do {
                prepared = try AudioPipeline.prepare(box.items[i].bytes, sampleRate: model.sampleRate, limits: limits)
            } catch {
                throw ServerError.from(error).prefixed(label(i))
            }
            box.items[i].bytes = []
            total += prepared.durationSeconds
            if total > maxRequestSeconds { throw tooMuchAudio(total) }
            // A header may under-declare (MP3 estimates, streamed WAV): charge what was decoded.
            let extra = Int(((prepared.durationSeconds - declared[i]) * 1000).rounded(.up)) * weight
            if extra > 0, !reservation.grow(by: extra) { throw budgetFull() }
            let mel = frontEnd.normalizedLogMel(prepared.samples)
            clips.append(
                ClipEncoding(
                    normalizedLogMel: mel, config: model, durationSeconds: prepared.durationSeconds,
                    keepFrames: keepFrames))
            facts.append(
                ClipFacts(
                    durationSeconds: prepared.durationSeconds, inputSampleRate: prepared.inputSampleRate,
                    inputChannels: prepared.inputChannels, format: prepared.format))
        }
        box.upload = nil
        return ticket.isCancelled ? nil : (clips, facts)
    }

    private func tooMuchAudio(_ seconds: Double) -> ServerError {
        .payloadTooLarge(
            "the request holds \(Self.format(seconds)) s of audio; the limit is "
                + "\(Self.format(maxRequestSeconds)) s per request (--max-request-audio-seconds)")
    }

    private func budgetFull() -> ServerError {
        .overloaded(
            "the server is holding its limit of \(Self.format(Double(audioBudget.capacity) / 1000)) s of audio "
                + "in flight (--max-inflight-audio-seconds); retry shortly", retryAfter: 1)
    }

    static func format(_ seconds: Double) -> String { String(format: "%g", (seconds * 10).rounded() / 10) }

    /// Blocking form for threads that may block (start-up warm-up, tools).
    public func embedBlocking(_ inputs: [AudioInput]) throws(ServerError) -> [EmbeddedClip] {
        let done = DispatchSemaphore(value: 0)
        let outcome = OutcomeBox()
        embed(inputs, keepFrames: false, ticket: RequestTicket(releaseSlot: {})) { result, _ in
            outcome.result = result
            done.signal()
        }
        done.wait()
        return try outcome.result.get()
    }

    private final class OutcomeBox: @unchecked Sendable {
        // SAFETY: written once before the semaphore is signalled, read after it.
        var result: Result<[EmbeddedClip], ServerError> = .failure(.backend("no result"))
    }
}

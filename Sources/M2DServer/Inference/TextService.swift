// TextService: a request's texts -> checked against the limits -> token ids -> the cached embeddings, and one
// TextJob on the shared scheduler for the rest (docs/HTTP-API.md §3.5). Tokenizing runs on the caller's
// queue; the encoder only on the scheduler's thread.
import Foundation
import M2DTensor
import M2DText

public final class TextService: @unchecked Sendable {
    // SAFETY: immutable after init; the scheduler and cache are thread-safe.
    /// The embeddings in order and the tokens they came from (after truncation).
    public struct Embedded: Sendable {
        public let vectors: [[Float]]
        public let tokens: Int
    }

    public typealias Completion = @Sendable (Result<Embedded, ServerError>, JobTimings) -> Void

    public let model: TextModel
    let scheduler: InferenceScheduler
    public let cache: LabelCache
    /// Most UTF-8 bytes of one text, checked before it is tokenized.
    public let maxTextBytes: Int
    /// Most tokens of one request, all texts together: it bounds the encoder time one request queues.
    public let maxRequestTokens: Int

    public init(
        model: TextModel, scheduler: InferenceScheduler, cacheEntries: Int, maxTextBytes: Int, maxRequestTokens: Int
    ) {
        self.model = model
        self.scheduler = scheduler
        cache = LabelCache(capacity: cacheEntries)
        self.maxTextBytes = maxTextBytes
        self.maxRequestTokens = maxRequestTokens
    }

    /// The texts' embeddings in order; `completion` runs once (not at all when the ticket is cancelled first).
    public func embed(
        _ texts: [String], truncate: Bool, param: String, ticket: RequestTicket, completion: @escaping Completion
    ) {
        let sequences: [[Int32]]
        do { sequences = try tokenize(texts, truncate: truncate, param: param) } catch {
            return completion(.failure(error), JobTimings())
        }
        let tokens = sequences.reduce(0) { $0 + $1.count }
        var found = [[Float]?](repeating: nil, count: texts.count)
        var missing: [Int] = []
        for (i, text) in texts.enumerated() {
            if let hit = cache.get(text) { found[i] = hit } else { missing.append(i) }
        }
        if missing.isEmpty {
            return completion(.success(Embedded(vectors: found.map { $0! }, tokens: tokens)), JobTimings())
        }
        let E = model.config.outputDim, cache = cache, hits = found, misses = missing
        let job = TextJob(sequences: missing.map { sequences[$0] }, encoder: model.encoder) { result, timings in
            switch result {
            case let .failure(error): completion(.failure(error), timings)
            case let .success(output):
                var all = hits
                for (row, i) in misses.enumerated() {
                    let embedding = Array(UnsafeBufferPointer(start: output.pointer + row * E, count: E))
                    cache.put(texts[i], embedding)
                    all[i] = embedding
                }
                completion(.success(Embedded(vectors: all.map { $0! }, tokens: tokens)), timings)
            }
        }
        guard scheduler.submit(job) else {
            return completion(
                .failure(.unavailable(status: "draining", reason: "the inference queue takes no more work")),
                JobTimings())
        }
        ticket.whenCancelled { [scheduler] in scheduler.cancel(job) }
    }

    /// Token ids of every text, each checked first: size, emptiness, the encoder's positions.
    func tokenize(_ texts: [String], truncate: Bool, param: String) throws(ServerError) -> [[Int32]] {
        for (i, text) in texts.enumerated() where text.utf8.count > maxTextBytes {
            throw .payloadTooLarge(
                "\(param)[\(i)] is \(text.utf8.count) bytes; the limit is \(maxTextBytes) per text (--max-text-bytes)")
        }
        // Token rows of one request, bounded before any is encoded: bytes bound tokens (a token has a byte).
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }
        if bytes > maxRequestTokens * 4 {
            throw .payloadTooLarge(
                "the request's texts are \(bytes) bytes, more than \(maxRequestTokens) tokens' worth "
                    + "(--max-request-tokens)")
        }
        let sequences: [[Int32]]
        do { sequences = try model.tokenize(texts, truncate: truncate) } catch {
            switch error {
            case let .tooLong(index, tokens, limit):
                throw .validation(
                    "\(param)[\(index)] is \(tokens) tokens, over the text encoder's \(limit); shorten it or send "
                        + "truncate=true", param: param)
            case let .emptyText(index): throw .validation("\(param)[\(index)] is empty", param: param)
            default: throw .backend(error.description)
            }
        }
        let tokens = sequences.reduce(0) { $0 + $1.count }
        if tokens > maxRequestTokens {
            throw .payloadTooLarge(
                "the request's texts are \(tokens) tokens; the limit is \(maxRequestTokens) (--max-request-tokens)")
        }
        return sequences
    }

    /// Blocking form for threads that may block (tests, tools).
    public func embedBlocking(_ texts: [String], truncate: Bool = false) throws(ServerError) -> Embedded {
        let done = DispatchSemaphore(value: 0)
        let box = Box()
        embed(texts, truncate: truncate, param: "input", ticket: RequestTicket(releaseSlot: {})) { result, _ in
            box.result = result
            done.signal()
        }
        done.wait()
        return try box.result.get()
    }

    private final class Box: @unchecked Sendable {
        // SAFETY: written once before the semaphore is signalled, read after it.
        var result: Result<Embedded, ServerError> = .failure(.backend("no result"))
    }
}

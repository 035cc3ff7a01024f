// TextService: a request's texts -> checked against the limits -> token ids -> the cached embeddings, and one
// TextJob on the shared scheduler for the rest (docs/HTTP-API.md §3.5). Tokenizing runs on the caller's
// queue; the encoder only on the scheduler's thread.
import Foundation
import M2DTensor
import M2DText

public final class TextService: @unchecked Sendable {
    // SAFETY: immutable after init; the scheduler and cache are thread-safe.
    public typealias Completion = @Sendable (Result<[[Float]], ServerError>, JobTimings) -> Void

    public let model: TextModel
    let scheduler: InferenceScheduler
    public let cache: LabelCache
    /// Most UTF-8 bytes of one text, checked before it is tokenized.
    public let maxTextBytes: Int

    public init(model: TextModel, scheduler: InferenceScheduler, cacheEntries: Int, maxTextBytes: Int) {
        self.model = model
        self.scheduler = scheduler
        cache = LabelCache(capacity: cacheEntries)
        self.maxTextBytes = maxTextBytes
    }

    /// The texts' embeddings in order; `completion` runs once (not at all when the ticket is cancelled first).
    public func embed(
        _ texts: [String], truncate: Bool, param: String, ticket: RequestTicket, completion: @escaping Completion
    ) {
        let sequences: [[Int32]]
        do { sequences = try tokenize(texts, truncate: truncate, param: param) } catch {
            return completion(.failure(error), JobTimings())
        }
        var found = [[Float]?](repeating: nil, count: texts.count)
        var missing: [Int] = []
        for (i, text) in texts.enumerated() {
            if let hit = cache.get(text) { found[i] = hit } else { missing.append(i) }
        }
        if missing.isEmpty { return completion(.success(found.map { $0! }), JobTimings()) }
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
                completion(.success(all.map { $0! }), timings)
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
        do { return try model.tokenize(texts, truncate: truncate) } catch {
            switch error {
            case let .tooLong(index, tokens, limit):
                throw .validation(
                    "\(param)[\(index)] is \(tokens) tokens, over the text encoder's \(limit); shorten it or send "
                        + "truncate=true", param: param)
            case let .emptyText(index): throw .validation("\(param)[\(index)] is empty", param: param)
            default: throw .backend(error.description)
            }
        }
    }

    /// Blocking form for threads that may block (tests, tools).
    public func embedBlocking(_ texts: [String], truncate: Bool = false) throws(ServerError) -> [[Float]] {
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
        var result: Result<[[Float]], ServerError> = .failure(.backend("no result"))
    }
}

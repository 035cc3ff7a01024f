// LabelCache: text embeddings by their text, least recently used out first, so a client that sends the
// same candidate labels again (zero-shot over many clips) costs no encoder time. Bounded by entries.
import Foundation

public final class LabelCache: @unchecked Sendable {
    // SAFETY: every field is guarded by `lock`.
    private let lock = NSLock()
    private var entries: [String: (embedding: [Float], used: UInt64)] = [:]
    private var clock: UInt64 = 0
    public let capacity: Int
    /// Longest text kept (a label or a caption, not a document).
    public static let maxKeyBytes = 1024

    public init(capacity: Int) { self.capacity = max(0, capacity) }

    public var count: Int { lock.withLock { entries.count } }

    public func get(_ text: String) -> [Float]? {
        lock.withLock {
            guard var entry = entries[text] else { return nil }
            clock += 1
            entry.used = clock
            entries[text] = entry
            return entry.embedding
        }
    }

    /// Keeps `embedding` for `text`; past capacity the least recently used eighth goes at once (amortised).
    public func put(_ text: String, _ embedding: [Float]) {
        guard capacity > 0, text.utf8.count <= Self.maxKeyBytes else { return }
        lock.withLock {
            clock += 1
            entries[text] = (embedding, clock)
            if entries.count > capacity {
                let drop = max(1, capacity / 8)
                let oldest = entries.sorted { $0.value.used < $1.value.used }.prefix(drop).map(\.key)
                for key in oldest { entries[key] = nil }
            }
        }
    }

    public func removeAll() { lock.withLock { entries.removeAll() } }
}

// ServerState: the lifecycle phase (loading -> ready -> draining, or failed) and the admission
// counter, the one gate every inference request passes.
import Foundation

public final class ServerState: @unchecked Sendable {
    // SAFETY: every field is guarded by `lock`.
    public enum Phase: String, Sendable { case loading, ready, draining, failed }

    private let lock = NSLock()
    private var _phase: Phase = .loading
    private var _reason = "loading model"
    private var _inflight = 0
    public let maxInflight: Int

    public init(maxInflight: Int) { self.maxInflight = maxInflight }

    public var phase: Phase { lock.withLock { _phase } }
    public var reason: String { lock.withLock { _reason } }
    public var inflight: Int { lock.withLock { _inflight } }

    /// Draining is final: nothing moves the server out of it.
    public func set(_ phase: Phase, reason: String) {
        lock.withLock {
            if _phase == .draining && phase != .draining { return }
            _phase = phase
            _reason = reason
        }
    }

    /// Takes an admission slot; false when the limit is reached.
    public func admit() -> Bool {
        lock.withLock {
            guard _inflight < maxInflight else { return false }
            _inflight += 1
            return true
        }
    }

    public func release() { lock.withLock { _inflight -= 1 } }
}

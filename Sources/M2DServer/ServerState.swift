// ServerState: readiness (loading -> ready -> draining, or unhealthy) and the admission counter.
import Foundation

public final class ServerState: @unchecked Sendable {
    // SAFETY: every field is guarded by `lock`.
    public enum Phase: String, Sendable { case loading, ready, draining, unhealthy }

    private let lock = NSLock()
    private var _phase: Phase = .loading
    private var _reason = "loading model"
    private var _inflight = 0
    private var consecutiveFailures = 0
    public let maxInflight: Int

    public init(maxInflight: Int) { self.maxInflight = maxInflight }

    public var phase: Phase { lock.withLock { _phase } }
    public var reason: String { lock.withLock { _reason } }
    public var inflight: Int { lock.withLock { _inflight } }

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

    /// Backend health: unhealthy after 3 consecutive failures, ready again after a success.
    public func recordInference(success: Bool) {
        lock.withLock {
            if success {
                consecutiveFailures = 0
                if _phase == .unhealthy { _phase = .ready; _reason = "" }
            } else {
                consecutiveFailures += 1
                if consecutiveFailures >= 3 && _phase == .ready { _phase = .unhealthy; _reason = "inference failed 3 times in a row" }
            }
        }
    }
}

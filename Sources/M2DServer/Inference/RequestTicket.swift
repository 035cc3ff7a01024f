// RequestTicket: what one inference request holds while it is served (an admission slot, its share
// of the in-flight audio budget, its job) and its cancellation. Released once, when the request
// ends, whichever way it ends.
import Foundation

public final class RequestTicket: @unchecked Sendable {
    // SAFETY: every field is guarded by `lock`.
    private let lock = NSLock()
    private var releaseSlot: (@Sendable () -> Void)?
    private var audio: Budget.Reservation?
    private var onCancel: [@Sendable () -> Void] = []
    private var cancelled = false

    public init(releaseSlot: @escaping @Sendable () -> Void) { self.releaseSlot = releaseSlot }

    public var isCancelled: Bool { lock.withLock { cancelled } }

    /// Keeps `reservation` until the request ends.
    func hold(_ reservation: Budget.Reservation) { lock.withLock { audio = reservation } }

    /// Runs `action` when the request is cancelled (at once if it already is).
    func whenCancelled(_ action: @escaping @Sendable () -> Void) {
        let now = lock.withLock { () -> Bool in
            if cancelled { return true }
            onCancel.append(action)
            return false
        }
        if now { action() }
    }

    /// The client left: stop the work it queued.
    public func cancel() {
        let actions = lock.withLock { () -> [@Sendable () -> Void] in
            guard !cancelled else { return [] }
            cancelled = true
            defer { onCancel = [] }
            return onCancel
        }
        for action in actions { action() }
    }

    /// Gives back the slot and the budget (idempotent).
    public func release() {
        let (slot, reservation) = lock.withLock { () -> ((@Sendable () -> Void)?, Budget.Reservation?) in
            defer { releaseSlot = nil; audio = nil; onCancel = [] }
            return (releaseSlot, audio)
        }
        slot?()
        reservation?.release()
    }
}

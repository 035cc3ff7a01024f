// Budget: a shared allowance (upload bytes in flight, audio milliseconds in flight) from which
// requests take reservations. A reservation gives its amount back when it is released or freed,
// so no path that drops a request can leak budget.
import Foundation

public final class Budget: @unchecked Sendable {
    // SAFETY: `used` is guarded by `lock`; `capacity` is immutable.
    public let capacity: Int
    private let lock = NSLock()
    private var used = 0

    public init(capacity: Int) { self.capacity = max(0, capacity) }

    public var inUse: Int { lock.withLock { used } }

    /// Takes `amount` now, or nil when it does not fit.
    public func reserve(_ amount: Int) -> Reservation? {
        guard take(amount) else { return nil }
        return Reservation(budget: self, amount: amount)
    }

    fileprivate func take(_ amount: Int) -> Bool {
        lock.withLock {
            guard amount >= 0, amount <= capacity - used else { return false }
            used += amount
            return true
        }
    }

    fileprivate func give(_ amount: Int) { lock.withLock { used -= amount } }

    public final class Reservation: @unchecked Sendable {
        // SAFETY: `amount` is guarded by `lock`.
        private let budget: Budget
        private let lock = NSLock()
        private var amount: Int

        fileprivate init(budget: Budget, amount: Int) {
            self.budget = budget
            self.amount = amount
        }

        deinit { budget.give(amount) }

        public var held: Int { lock.withLock { amount } }
        /// The whole budget this reservation is part of.
        public var capacity: Int { budget.capacity }

        /// Takes `extra` more; false (and nothing taken) when it does not fit.
        public func grow(by extra: Int) -> Bool {
            lock.withLock {
                guard budget.take(extra) else { return false }
                amount += extra
                return true
            }
        }

        /// Gives everything back now.
        public func release() {
            let given = lock.withLock { () -> Int in
                defer { amount = 0 }
                return amount
            }
            budget.give(given)
        }
    }
}

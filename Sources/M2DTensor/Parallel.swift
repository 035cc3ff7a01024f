// Parallel: splits row loops of the non-GEMM ops over the same number of threads BLAS uses, so
// compute never oversubscribes the cores. Small loops run inline (dispatch costs ~microseconds).
import Dispatch

public enum Parallel {
    /// Calls `body(range)` on disjoint ranges covering 0..<count, on up to BLAS.threads threads.
    /// `grain` is the least work (in items) worth a thread of its own.
    @inline(__always)
    public static func forRanges(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        let workers = min(BLAS.threads, max(1, count / max(1, grain)))
        if workers <= 1 { body(0..<count); return }
        let step = (count + workers - 1) / workers
        withoutActuallyEscaping(body) { body in
            let task = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let lo = w * step, hi = min(count, lo + step)
                if lo < hi { task.value(lo..<hi) }
            }
        }
    }

    /// Runs `body(index, worker)` for every index in 0..<count on up to BLAS.threads workers, with
    /// BLAS single-threaded inside (each worker's small GEMMs run on its own core).
    public static func forEachWithSerialBLAS(_ count: Int, _ body: (_ index: Int, _ worker: Int) -> Void) {
        let threads = BLAS.threads
        let workers = min(threads, count)
        if workers <= 1 { for i in 0..<count { body(i, 0) }; return }
        BLAS.threads = 1
        defer { BLAS.threads = threads }
        withoutActuallyEscaping(body) { body in
            let task = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w
                while i < count { task.value(i, w); i += workers }
            }
        }
    }
}

/// Carries a closure into concurrentPerform. SAFETY: every caller hands each worker disjoint
/// output ranges, and the closure does not outlive the call.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

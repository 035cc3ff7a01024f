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

}

// The global OpenBLAS thread count is never changed at run time: changing it while another thread
// is inside a GEMM (the server's front end, a second encoder) corrupts OpenBLAS's thread pool.

/// Carries a closure into concurrentPerform. SAFETY: every caller hands each worker disjoint
/// output ranges, and the closure does not outlive the call.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

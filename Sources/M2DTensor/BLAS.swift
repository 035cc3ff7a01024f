// BLAS: the one GEMM wrapper. Ops never call cblas_* directly, so transposes and leading
// dimensions are checked in one place.
import COpenBLAS

public enum Transpose: Sendable { case none, transposed }

/// The GEMM engine (row-major): C = alpha * op(A) * op(B) + beta * C.
public enum BLAS {
    /// C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C, row-major, leading dimensions in floats.
    /// op(A) is A (M,K) with lda >= K, or A stored as (K,M) with lda >= M when `transA` is `.transposed`.
    @inline(__always)
    public static func gemm(
        transA: Transpose = .none, transB: Transpose = .none,
        M: Int, N: Int, K: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        precondition(M >= 0 && N >= 0 && K >= 0, "gemm: negative dimension M=\(M) N=\(N) K=\(K)")
        precondition(lda >= max(1, transA == .none ? K : M), "gemm: lda \(lda) too small (M=\(M) K=\(K) \(transA))")
        precondition(ldb >= max(1, transB == .none ? N : K), "gemm: ldb \(ldb) too small (K=\(K) N=\(N) \(transB))")
        precondition(ldc >= max(1, N), "gemm: ldc \(ldc) < N \(N)")
        if M == 0 || N == 0 { return }
        cblas_sgemm(
            CblasRowMajor,
            transA == .none ? CblasNoTrans : CblasTrans,
            transB == .none ? CblasNoTrans : CblasTrans,
            Int32(M), Int32(N), Int32(K), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The name of the OpenBLAS kernel chosen for this CPU (e.g. "Haswell", "Cooperlake").
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Threads OpenBLAS uses for one GEMM.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }
}

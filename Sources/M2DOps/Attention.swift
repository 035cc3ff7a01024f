// Multi-head self-attention core (timm Attention between qkv and proj):
// per batch b and head h, P = softmax(q k^T * scale), o = P v.
import M2DTensor

public enum Attention {
    /// out (R, H*hd) gets the heads concatenated (feature h*hd + j) from qkv (R, 3*H*hd), where q, k,
    /// v are the contiguous thirds and head h is the contiguous hd-block h of each third. Rows form
    /// independent sequences: sequence s spans rows [starts[s], starts[s] + lengths[s]) and attends
    /// only within itself (ragged batching of chunks of different lengths).
    /// probs receives P for (s, h) at offset (s*H + h) * probsStride when probsStride > 0 (training
    /// keeps every P for backward); with probsStride 0 it is scratch for one sequence's heads
    /// (H * maxLen^2 floats), reused sequence after sequence (inference).
    public static func forward(
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, probsStride: Int,
        qkv: UnsafePointer<Float>, starts: [Int], lengths: [Int], heads H: Int, headDim hd: Int, engine: GEMMEngine? = nil
    ) {
        let engine = engine ?? .openBLAS
        let D = H * hd
        let scale = 1 / Float(hd).squareRoot()
        for s in 0..<starts.count {
            let N = lengths[s], base = qkv + starts[s] * 3 * D
            let stride = probsStride == 0 ? N * N : probsStride
            let first = probs + (probsStride == 0 ? 0 : s * H * probsStride)
            // Scores of every head (one oneDNN call over the heads, or a BLAS GEMM per head), softmax
            // rows across cores, then P.V the same way.
            engine.batchedGemm(batch: H, M: N, N: N, K: hd, alpha: scale, a: base, aStrides: (hd, 3 * D, 1),
                               b: base + D, bStrides: (hd, 1, 3 * D), c: first, cStrides: (stride, N, 1))
            Parallel.forRanges(H * N, grain: 64) { rows in
                for r in rows { Softmax.forwardRows(first + (r / N) * stride + (r % N) * N, rows: 1, cols: N) }
            }
            engine.batchedGemm(batch: H, M: N, N: hd, K: N, a: first, aStrides: (stride, N, 1),
                               b: base + 2 * D, bStrides: (hd, 3 * D, 1), c: out + starts[s] * D, cStrides: (hd, D, 1))
        }
    }

    /// Uniform batch: B sequences of N rows each.
    public static func forward(
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, probsStride: Int,
        qkv: UnsafePointer<Float>, B: Int, N: Int, heads H: Int, headDim hd: Int, engine: GEMMEngine? = nil
    ) {
        forward(out: out, probs: probs, probsStride: probsStride, qkv: qkv, starts: (0..<B).map { $0 * N },
                lengths: [Int](repeating: N, count: B), heads: H, headDim: hd, engine: engine)
    }
}

extension Attention {
    /// Backward of the uniform-batch `forward` (accumulates into dQKV): per (b, h) with P the saved
    /// probabilities (probsStride >= N*N), dV += P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dP * P)),
    /// dQ += scale dS K, dK += scale dS^T Q. Shapes: dOut (B*N, H*hd), qkv/dQKV (B*N, 3*H*hd),
    /// probs (B*H, N, N); scratch holds N*N floats.
    public static func backward(
        dQKV: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
        probs: UnsafePointer<Float>, probsStride: Int, scratch: UnsafeMutablePointer<Float>,
        B: Int, N: Int, heads H: Int, headDim hd: Int
    ) {
        let D = H * hd
        let scale = 1 / Float(hd).squareRoot()
        for job in 0..<(B * H) {
            let b = job / H, h = job % H
            let base = qkv + b * N * 3 * D, dBase = dQKV + b * N * 3 * D
            let p = probs + job * probsStride
            let dO = dOut + b * N * D + h * hd
            let dS = scratch
            // dV (N,hd) += P^T (N,N) . dO (N,hd)
            BLAS.gemm(transA: .transposed, M: N, N: hd, K: N, a: p, lda: N, b: dO, ldb: D, beta: 1,
                      c: dBase + 2 * D + h * hd, ldc: 3 * D)
            // dP (N,N) = dO (N,hd) . V^T
            BLAS.gemm(transB: .transposed, M: N, N: N, K: hd, a: dO, lda: D, b: base + 2 * D + h * hd, ldb: 3 * D, c: dS, ldc: N)
            for i in 0..<N {
                let pr = p + i * N, dr = dS + i * N
                var dot: Float = 0
                for j in 0..<N { dot += pr[j] * dr[j] }
                for j in 0..<N { dr[j] = pr[j] * (dr[j] - dot) }
            }
            // dQ += scale dS K ; dK += scale dS^T Q
            BLAS.gemm(M: N, N: hd, K: N, alpha: scale, a: dS, lda: N, b: base + D + h * hd, ldb: 3 * D, beta: 1,
                      c: dBase + h * hd, ldc: 3 * D)
            BLAS.gemm(transA: .transposed, M: N, N: hd, K: N, alpha: scale, a: dS, lda: N, b: base + h * hd, ldb: 3 * D, beta: 1,
                      c: dBase + D + h * hd, ldc: 3 * D)
        }
    }
}

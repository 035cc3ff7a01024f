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
        qkv: UnsafePointer<Float>, starts: [Int], lengths: [Int], heads H: Int, headDim hd: Int,
        engine: GEMMEngine? = nil
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
            engine.batchedGemm(
                batch: H, M: N, N: N, K: hd, alpha: scale, a: base, aStrides: (hd, 3 * D, 1),
                b: base + D, bStrides: (hd, 1, 3 * D), c: first, cStrides: (stride, N, 1))
            Parallel.forRanges(H * N, grain: 64) { rows in
                for r in rows { Softmax.forwardRows(first + (r / N) * stride + (r % N) * N, rows: 1, cols: N) }
            }
            engine.batchedGemm(
                batch: H, M: N, N: hd, K: N, a: first, aStrides: (stride, N, 1),
                b: base + 2 * D, bStrides: (hd, 3 * D, 1), c: out + starts[s] * D, cStrides: (hd, D, 1))
        }
    }

    /// Uniform batch: B sequences of N rows each.
    public static func forward(
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, probsStride: Int,
        qkv: UnsafePointer<Float>, B: Int, N: Int, heads H: Int, headDim hd: Int, engine: GEMMEngine? = nil
    ) {
        forward(
            out: out, probs: probs, probsStride: probsStride, qkv: qkv, starts: (0..<B).map { $0 * N },
            lengths: [Int](repeating: N, count: B), heads: H, headDim: hd, engine: engine)
    }
}

extension Attention {
    /// Backward of the uniform-batch `forward` (accumulates into dQKV): per (b, h) with P the saved
    /// probabilities (probsStride >= N*N), dV += P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dP * P)),
    /// dQ += scale dS K, dK += scale dS^T Q. Each product covers all heads of a sequence in one
    /// batched GEMM. Shapes: dOut (B*N, H*hd), qkv/dQKV (B*N, 3*H*hd), probs (B*H, N, N); scratch
    /// holds H*N*N floats.
    public static func backward(
        dQKV: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
        probs: UnsafePointer<Float>, probsStride: Int, scratch: UnsafeMutablePointer<Float>,
        B: Int, N: Int, heads H: Int, headDim hd: Int, engine: GEMMEngine? = nil
    ) {
        let engine = engine ?? .openBLAS
        let D = H * hd
        let scale = 1 / Float(hd).squareRoot()
        let qkvHead = (batch: hd, row: 3 * D, column: 1), square = (batch: N * N, row: N, column: 1)
        for b in 0..<B {
            let base = qkv + b * N * 3 * D, dBase = dQKV + b * N * 3 * D
            let p = probs + b * H * probsStride, dO = dOut + b * N * D, dS = scratch
            // dV (N,hd) += P^T (N,N) . dO (N,hd)
            engine.batchedGemm(
                batch: H, M: N, N: hd, K: N, a: p, aStrides: (probsStride, 1, N), b: dO, bStrides: (hd, D, 1),
                beta: 1, c: dBase + 2 * D, cStrides: qkvHead)
            // dP (N,N) = dO (N,hd) . V^T
            engine.batchedGemm(
                batch: H, M: N, N: N, K: hd, a: dO, aStrides: (hd, D, 1), b: base + 2 * D, bStrides: (hd, 1, 3 * D),
                c: dS, cStrides: square)
            Parallel.forRanges(H * N, grain: 64) { rows in
                for r in rows {
                    let pr = p + (r / N) * probsStride + (r % N) * N, dr = dS + r * N
                    var dot: Float = 0
                    for j in 0..<N { dot += pr[j] * dr[j] }
                    for j in 0..<N { dr[j] = pr[j] * (dr[j] - dot) }
                }
            }
            // dQ += scale dS K ; dK += scale dS^T Q
            engine.batchedGemm(
                batch: H, M: N, N: hd, K: N, alpha: scale, a: dS, aStrides: square, b: base + D, bStrides: qkvHead,
                beta: 1, c: dBase, cStrides: qkvHead)
            engine.batchedGemm(
                batch: H, M: N, N: hd, K: N, alpha: scale, a: dS, aStrides: (N * N, 1, N), b: base, bStrides: qkvHead,
                beta: 1, c: dBase + D, cStrides: qkvHead)
        }
    }
}

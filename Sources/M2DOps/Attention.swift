// Multi-head self-attention core (timm Attention between qkv and proj):
// per batch b and head h, P = softmax(q k^T * scale), o = P v.
import M2DTensor

public enum Attention {
    /// out (R, H*hd) gets the heads concatenated (feature h*hd + j) from qkv (R, 3*H*hd), where q, k,
    /// v are the contiguous thirds and head h is the contiguous hd-block h of each third. Rows form
    /// independent sequences: sequence s spans rows [starts[s], starts[s] + lengths[s]) and attends
    /// only within itself (ragged batching of chunks of different lengths).
    /// probs receives P for (s, h) at offset (s*H + h) * probsStride; probsStride 0 gives each worker
    /// thread its own maxLen^2 scratch at offset worker * maxLen^2 (inference: probs holds
    /// BLAS.threads * maxLen^2 floats); probsStride >= maxLen^2 keeps every P (training).
    public static func forward(
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, probsStride: Int,
        qkv: UnsafePointer<Float>, starts: [Int], lengths: [Int], heads H: Int, headDim hd: Int
    ) {
        let D = H * hd
        let scale = 1 / Float(hd).squareRoot()
        let maxLen = lengths.max() ?? 0
        Parallel.forEachWithSerialBLAS(starts.count * H) { job, worker in
            let s = job / H, h = job % H, N = lengths[s]
            let base = qkv + starts[s] * 3 * D
            let p = probs + (probsStride == 0 ? worker * maxLen * maxLen : job * probsStride)
            BLAS.gemm(transB: .transposed, M: N, N: N, K: hd, alpha: scale,
                      a: base + h * hd, lda: 3 * D, b: base + D + h * hd, ldb: 3 * D, c: p, ldc: N)
            Softmax.forwardRows(p, rows: N, cols: N)
            BLAS.gemm(M: N, N: hd, K: N, a: p, lda: N, b: base + 2 * D + h * hd, ldb: 3 * D,
                      c: out + starts[s] * D + h * hd, ldc: D)
        }
    }

    /// Uniform batch: B sequences of N rows each.
    public static func forward(
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, probsStride: Int,
        qkv: UnsafePointer<Float>, B: Int, N: Int, heads H: Int, headDim hd: Int
    ) {
        forward(out: out, probs: probs, probsStride: probsStride, qkv: qkv, starts: (0..<B).map { $0 * N },
                lengths: [Int](repeating: N, count: B), heads: H, headDim: hd)
    }
}

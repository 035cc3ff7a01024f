// Multi-head self-attention core (timm Attention between qkv and proj):
// per batch b and head h, P = softmax(q k^T * scale), o = P v.
import M2DTensor

public enum Attention {
    /// out (B*N, H*hd) gets the heads concatenated (feature h*hd + j) from qkv (B*N, 3*H*hd), where
    /// q, k, v are the contiguous thirds and head h is the contiguous hd-block h of each third.
    /// probs receives P for (b,h) at offset (b*H + h) * probsStride; probsStride 0 gives each worker
    /// thread its own N*N scratch at offset worker * N*N (inference: probs holds BLAS.threads * N*N),
    /// probsStride N*N keeps every P (training, saved for backward).
    public static func forward(
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, probsStride: Int,
        qkv: UnsafePointer<Float>, B: Int, N: Int, heads H: Int, headDim hd: Int
    ) {
        let D = H * hd
        let scale = 1 / Float(hd).squareRoot()
        Parallel.forEachWithSerialBLAS(B * H) { job, worker in
            let b = job / H, h = job % H
            let base = qkv + b * N * 3 * D
            let p = probs + (probsStride == 0 ? worker * N * N : job * probsStride)
            BLAS.gemm(transB: .transposed, M: N, N: N, K: hd, alpha: scale,
                      a: base + h * hd, lda: 3 * D, b: base + D + h * hd, ldb: 3 * D, c: p, ldc: N)
            Softmax.forwardRows(p, rows: N, cols: N)
            BLAS.gemm(M: N, N: hd, K: N, a: p, lda: N, b: base + 2 * D + h * hd, ldb: 3 * D,
                      c: out + b * N * D + h * hd, ldc: D)
        }
    }
}

// Per-op timing for one ViT-Base block at a given token count, to show where encoder time goes.
import Foundation
import M2DOps
import M2DTensor

enum OpBreakdown {
    static func run(rows: Int, tokens N: Int, batch B: Int, repeats: Int) {
        let D = 768, H = 3072, heads = 12
        var rng = Rng(seed: 9)
        func buf(_ n: Int) -> FloatBuffer {
            let b = FloatBuffer(count: n)
            for i in 0..<n { b.pointer[i] = rng.normal() * 0.1 }
            return b
        }
        let x = buf(rows * D), ln = buf(rows * D), qkv = buf(rows * 3 * D), attn = buf(rows * D), hidden = buf(rows * H)
        let wqkv = buf(3 * D * D), wproj = buf(D * D), w1 = buf(H * D), w2 = buf(D * H), bias = buf(H), g = buf(D)
        let probs = buf(12 * N * N)
        func time(_ body: () -> Void) -> Double {
            body()
            var t = Double.infinity
            for _ in 0..<repeats {
                let s = DispatchTime.now().uptimeNanoseconds
                body()
                t = min(t, Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6)
            }
            return t
        }
        let items: [(String, Double)] = [
            (
                "layer norm x2",
                time {
                    LayerNorm.forward(
                        out: ln.pointer, input: x.pointer, weight: g.pointer, bias: g.pointer, rows: rows, cols: D)
                    LayerNorm.forward(
                        out: ln.pointer, input: x.pointer, weight: g.pointer, bias: g.pointer, rows: rows, cols: D)
                }
            ),
            (
                "qkv linear",
                time {
                    Linear.forward(
                        out: qkv.pointer, input: ln.pointer, weight: wqkv.pointer, bias: bias.pointer, M: rows, C: D,
                        OC: 3 * D)
                }
            ),
            (
                "attention core",
                time {
                    Attention.forward(
                        out: attn.pointer, probs: probs.pointer, probsStride: 0, qkv: qkv.pointer, B: B, N: N,
                        heads: heads, headDim: 64)
                }
            ),
            (
                "  of which softmax",
                time { for _ in 0..<heads { Softmax.forwardRows(probs.pointer, rows: N, cols: N) } }
            ),
            (
                "  of which q.k gemms (1 thread)",
                time {
                    let t = BLAS.threads; BLAS.threads = 1
                    for h in 0..<heads {
                        BLAS.gemm(
                            transB: .transposed, M: N, N: N, K: 64, alpha: 0.125, a: qkv.pointer + h * 64, lda: 3 * D,
                            b: qkv.pointer + D + h * 64, ldb: 3 * D, c: probs.pointer, ldc: N)
                    }
                    BLAS.threads = t
                }
            ),
            (
                "proj linear",
                time {
                    Linear.forward(
                        out: x.pointer, input: attn.pointer, weight: wproj.pointer, bias: bias.pointer, M: rows, C: D,
                        OC: D, accumulate: true)
                }
            ),
            (
                "fc1 linear",
                time {
                    Linear.forward(
                        out: hidden.pointer, input: ln.pointer, weight: w1.pointer, bias: bias.pointer, M: rows, C: D,
                        OC: H)
                }
            ),
            ("gelu", time { GELU.forwardInPlace(hidden.pointer, count: rows * H) }),
            (
                "fc2 linear",
                time {
                    Linear.forward(
                        out: x.pointer, input: hidden.pointer, weight: w2.pointer, bias: bias.pointer, M: rows, C: H,
                        OC: D, accumulate: true)
                }
            ),
        ]
        let total = items.reduce(0) { $0 + $1.1 }
        print("| op (one block, \(rows) rows) | ms | share |")
        print("|---|---|---|")
        for (name, t) in items {
            print("| \(name) | \(String(format: "%.2f", t)) | \(String(format: "%.0f%%", 100 * t / total)) |")
        }
        print("| total | \(String(format: "%.2f", total)) | |")
    }
}

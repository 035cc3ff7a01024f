// Per-op timing for one ViT-Base block at a given token count, on the engine the encoder ran on, to
// show where encoder time goes.
import Foundation
import M2DModel
import M2DOps
import M2DTensor

enum OpBreakdown {
    /// The fused encoder's own profile: its steps' wall time over `repeats` forwards of `batch` full
    /// chunks, per forward (both threads work in every step).
    static func fused(encoder: ViTEncoder, batch: Int, repeats: Int, engine: GEMMEngine) {
        let c = encoder.config, Tp = c.gridTimePatches
        let input = FloatBuffer(count: batch * c.nMels * c.chunkFrames)
        var rng = Rng(seed: 4)
        for i in 0..<input.count { input.pointer[i] = rng.normal() }
        let chunks = (0..<batch).map {
            EncoderChunk(base: input.pointer + $0 * c.nMels * c.chunkFrames, rowStride: c.chunkFrames, timePatches: Tp)
        }
        _ = encoder.forward(chunks)
        _ = engine.fusedProfile(reset: true)
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<max(1, repeats) { _ = encoder.forward(chunks) }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 / Double(max(1, repeats))
        let steps = engine.fusedProfile(reset: true).map { ($0.name, $0.seconds * 1000 / Double(max(1, repeats))) }
        let inSteps = steps.reduce(0) { $0 + $1.1 }
        print(
            "| step (\(c.depth) blocks, \(batch) chunk\(batch == 1 ? "" : "s"), \(engine.summary)) "
                + "| ms per forward | share |"
        )
        print("|---|---|---|")
        for (name, ms) in steps { print("| \(name) | \(fmt(ms)) | \(Int((100 * ms / wall).rounded()))% |") }
        print(
            "| outside the team (im2col, positions, Swift) | \(fmt(wall - inSteps)) | "
                + "\(Int((100 * (wall - inSteps) / wall).rounded()))% |"
        )
        print("| total | \(fmt(wall)) | |")
    }

    static func fmt(_ x: Double) -> String { String(format: x >= 100 ? "%.0f" : "%.2f", x) }

    static func run(rows: Int, tokens N: Int, batch B: Int, repeats: Int, engine: GEMMEngine) {
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
                        OC: 3 * D, engine: engine)
                }
            ),
            (
                "attention core",
                time {
                    Attention.forward(
                        out: attn.pointer, probs: probs.pointer, probsStride: 0, qkv: qkv.pointer, B: B, N: N,
                        heads: heads, headDim: 64, engine: engine)
                }
            ),
            (
                "  of which softmax (one core)",
                time { for _ in 0..<B * heads { Softmax.forwardRows(probs.pointer, rows: N, cols: N) } }
            ),
            (
                "  of which q.k and p.v products",
                time {
                    for b in 0..<B {
                        let base = qkv.pointer + b * N * 3 * D
                        engine.batchedGemm(
                            batch: heads, M: N, N: N, K: 64, alpha: 0.125, a: base, aStrides: (64, 3 * D, 1),
                            b: base + D, bStrides: (64, 1, 3 * D), c: probs.pointer, cStrides: (N * N, N, 1))
                        engine.batchedGemm(
                            batch: heads, M: N, N: 64, K: N, a: probs.pointer, aStrides: (N * N, N, 1),
                            b: base + 2 * D, bStrides: (64, 3 * D, 1), c: attn.pointer + b * N * D,
                            cStrides: (64, D, 1))
                    }
                }
            ),
            (
                "proj linear",
                time {
                    Linear.forward(
                        out: x.pointer, input: attn.pointer, weight: wproj.pointer, bias: bias.pointer, M: rows, C: D,
                        OC: D, accumulate: true, engine: engine)
                }
            ),
            (
                "fc1 linear",
                time {
                    Linear.forward(
                        out: hidden.pointer, input: ln.pointer, weight: w1.pointer, bias: bias.pointer, M: rows, C: D,
                        OC: H, engine: engine)
                }
            ),
            ("gelu", time { GELU.forwardInPlace(hidden.pointer, count: rows * H) }),
            (
                "fc2 linear",
                time {
                    Linear.forward(
                        out: x.pointer, input: hidden.pointer, weight: w2.pointer, bias: bias.pointer, M: rows, C: H,
                        OC: D, accumulate: true, engine: engine)
                }
            ),
        ]
        // The indented rows are parts of the row above them, already in its time.
        let total = items.filter { !$0.0.hasPrefix(" ") }.reduce(0) { $0 + $1.1 }
        print("| op (one block, \(rows) rows, \(engine.summary)) | ms | share |")
        print("|---|---|---|")
        for (name, t) in items {
            print("| \(name) | \(String(format: "%.2f", t)) | \(String(format: "%.0f%%", 100 * t / total)) |")
        }
        print("| total | \(String(format: "%.2f", total)) | |")
    }
}

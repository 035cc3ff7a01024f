// Backward ops against central finite differences in Double on tiny random inputs.
import M2DOps
import M2DTensor
import Testing
import TestSupport

@Suite struct BackwardTests {
    @Test func linearBackwardMatchesFiniteDifferences() {
        let M = 3, C = 5, OC = 4
        let x = randomBuffer(M * C, seed: 21), w = randomBuffer(OC * C, seed: 22), b = randomBuffer(OC, seed: 23)
        let r = randomBuffer(M * OC, seed: 24)  // L = sum(r * out)
        func loss() -> Double {
            let out = FloatBuffer(count: M * OC)
            Linear.forwardNaive(
                out: out.pointer, input: x.pointer, weight: w.pointer, bias: b.pointer, M: M, C: C, OC: OC)
            return (0..<(M * OC)).reduce(0.0) { $0 + Double(out.pointer[$1]) * Double(r.pointer[$1]) }
        }
        let dx = FloatBuffer(count: M * C), dw = FloatBuffer(count: OC * C), db = FloatBuffer(count: OC)
        Linear.backward(
            dInput: dx.pointer, dWeight: dw.pointer, dBias: db.pointer, dOut: r.pointer, input: x.pointer,
            weight: w.pointer, M: M, C: C, OC: OC)
        for (name, param, grad) in [("input", x, dx), ("weight", w, dw), ("bias", b, db)] {
            var numeric = [Float]()
            for i in 0..<param.count {
                let keep = param.pointer[i], eps: Float = 1e-2
                param.pointer[i] = keep + eps; let up = loss()
                param.pointer[i] = keep - eps; let down = loss()
                param.pointer[i] = keep
                numeric.append(Float((up - down) / Double(2 * eps)))
            }
            let cmp = Numerics.compare("d\(name)", grad.toArray(), numeric, atol: 1e-4, rtol: 1e-3)
            #expect(cmp.violations == 0, "\(cmp)")
        }
        // Backward accumulates: a second call doubles the gradients.
        let before = dw.toArray()
        Linear.backward(
            dInput: nil, dWeight: dw.pointer, dBias: nil, dOut: r.pointer, input: x.pointer, weight: w.pointer, M: M,
            C: C, OC: OC)
        #expect(zip(dw.toArray(), before).allSatisfy { abs($0 - 2 * $1) <= 1e-5 * max(1, abs($1)) })
    }
}

/// Central differences of a scalar function of one buffer (Float forward, Double loss).
func numericGradient(_ param: FloatBuffer, eps: Float = 1e-2, _ loss: () -> Double) -> [Float] {
    (0..<param.count).map { i in
        let keep = param.pointer[i]
        param.pointer[i] = keep + eps; let up = loss()
        param.pointer[i] = keep - eps; let down = loss()
        param.pointer[i] = keep
        return Float((up - down) / Double(2 * eps))
    }
}

func dotLoss(_ out: FloatBuffer, _ r: FloatBuffer) -> Double {
    (0..<out.count).reduce(0.0) { $0 + Double(out.pointer[$1]) * Double(r.pointer[$1]) }
}

@Suite struct MoreBackwardTests {
    @Test func layerNormBackward() {
        let R = 3, C = 6
        let x = randomBuffer(R * C, seed: 31), w = randomBuffer(C, seed: 32), b = randomBuffer(C, seed: 33),
            r = randomBuffer(R * C, seed: 34)
        func loss() -> Double {
            let out = FloatBuffer(count: R * C)
            LayerNorm.forward(out: out.pointer, input: x.pointer, weight: w.pointer, bias: b.pointer, rows: R, cols: C)
            return dotLoss(out, r)
        }
        let out = FloatBuffer(count: R * C), mean = FloatBuffer(count: R), rstd = FloatBuffer(count: R)
        LayerNorm.forward(
            out: out.pointer, mean: mean.pointer, rstd: rstd.pointer, input: x.pointer, weight: w.pointer,
            bias: b.pointer, rows: R, cols: C)
        let dx = FloatBuffer(count: R * C), dw = FloatBuffer(count: C), db = FloatBuffer(count: C)
        LayerNorm.backward(
            dInput: dx.pointer, dWeight: dw.pointer, dBias: db.pointer, dOut: r.pointer, input: x.pointer,
            weight: w.pointer,
            mean: mean.pointer, rstd: rstd.pointer, rows: R, cols: C)
        for (name, p, g) in [("x", x, dx), ("w", w, dw), ("b", b, db)] {
            let cmp = Numerics.compare(
                "layernorm d\(name)", g.toArray(), numericGradient(p, eps: 1e-3, loss), atol: 2e-3, rtol: 2e-2)
            #expect(cmp.violations == 0, "\(cmp)")
        }
    }

    @Test func geluBackward() {
        let n = 40
        let x = randomBuffer(n, seed: 41, scale: 2), r = randomBuffer(n, seed: 42)
        func loss() -> Double {
            let out = FloatBuffer(count: n)
            GELU.forward(out: out.pointer, input: x.pointer, count: n)
            return dotLoss(out, r)
        }
        let dx = FloatBuffer(count: n)
        GELU.backward(dInput: dx.pointer, dOut: r.pointer, input: x.pointer, count: n)
        let cmp = Numerics.compare("gelu dx", dx.toArray(), numericGradient(x, eps: 1e-3, loss), atol: 1e-3, rtol: 1e-2)
        #expect(cmp.violations == 0, "\(cmp)")
    }

    @Test(arguments: ["blas", "onednn"])
    func attentionBackward(backend: String) throws {
        let engine = backend == "onednn" ? try GEMMEngine(backend: .onednn) : nil
        let B = 2, N = 5, H = 2, hd = 3, D = H * hd
        let qkv = randomBuffer(B * N * 3 * D, seed: 51), r = randomBuffer(B * N * D, seed: 52)
        let probs = FloatBuffer(count: B * H * N * N)
        func loss() -> Double {
            let out = FloatBuffer(count: B * N * D)
            Attention.forward(
                out: out.pointer, probs: probs.pointer, probsStride: N * N, qkv: qkv.pointer, B: B, N: N, heads: H,
                headDim: hd)
            return dotLoss(out, r)
        }
        _ = loss()
        // dQKV starts non-zero: backward accumulates.
        let dqkv = randomBuffer(qkv.count, seed: 53), start = dqkv.toArray(), scratch = FloatBuffer(count: H * N * N)
        Attention.backward(
            dQKV: dqkv.pointer, dOut: r.pointer, qkv: qkv.pointer, probs: probs.pointer, probsStride: N * N,
            scratch: scratch.pointer, B: B, N: N, heads: H, headDim: hd, engine: engine)
        for i in 0..<dqkv.count { dqkv.pointer[i] -= start[i] }
        let cmp = Numerics.compare(
            "attention dqkv", dqkv.toArray(), numericGradient(qkv, eps: 1e-3, loss), atol: 2e-3, rtol: 2e-2)
        #expect(cmp.violations == 0, "\(cmp)")
    }

    @Test func m2dLossForwardAndBackward() {
        let T = 4, D = 7
        let p = randomBuffer(T * D, seed: 61), y = randomBuffer(T * D, seed: 62)
        let yn = FloatBuffer(count: T * D)
        // Perfectly aligned prediction (the standardized target itself) gives loss 0.
        _ = M2DLoss.forward(pred: p.pointer, target: y.pointer, normalizedTarget: yn.pointer, tokens: T, dim: D)
        let scratch = FloatBuffer(count: T * D)
        #expect(
            abs(
                M2DLoss.forward(
                    pred: yn.pointer, target: y.pointer, normalizedTarget: scratch.pointer, tokens: T, dim: D)) < 1e-6)
        func loss() -> Double {
            withExtendedLifetime(scratch) {
                M2DLoss.forward(
                    pred: p.pointer, target: y.pointer, normalizedTarget: scratch.pointer, tokens: T, dim: D)
            }
        }
        let dp = FloatBuffer(count: T * D)
        M2DLoss.backward(dPred: dp.pointer, pred: p.pointer, normalizedTarget: yn.pointer, tokens: T, dim: D)
        let cmp = Numerics.compare(
            "m2d loss dpred", dp.toArray(), numericGradient(p, eps: 1e-3, loss), atol: 1e-3, rtol: 1e-2)
        #expect(cmp.violations == 0, "\(cmp)")
    }

    @Test func normPixelLossForwardAndBackward() {
        let T = 3, P = 9
        let p = randomBuffer(T * P, seed: 71), y = randomBuffer(T * P, seed: 72)
        let yn = FloatBuffer(count: T * P), scratch = FloatBuffer(count: T * P)
        _ = NormPixelLoss.forward(pred: p.pointer, patches: y.pointer, normalizedTarget: yn.pointer, tokens: T, dim: P)
        // The standardized target has mean 0 and unbiased variance ~1 per patch, and predicting it costs 0.
        let first = (0..<P).map { Double(yn.pointer[$0]) }, mean = first.reduce(0, +) / Double(P)
        #expect(
            abs(mean) < 1e-6 && abs(first.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(P - 1) - 1) < 1e-4)
        #expect(
            abs(
                NormPixelLoss.forward(
                    pred: yn.pointer, patches: y.pointer, normalizedTarget: scratch.pointer, tokens: T, dim: P)) < 1e-12
        )
        func loss() -> Double {
            withExtendedLifetime(scratch) {
                NormPixelLoss.forward(
                    pred: p.pointer, patches: y.pointer, normalizedTarget: scratch.pointer, tokens: T, dim: P)
            }
        }
        let dp = FloatBuffer(count: T * P)
        NormPixelLoss.backward(dPred: dp.pointer, pred: p.pointer, normalizedTarget: yn.pointer, tokens: T, dim: P)
        let cmp = Numerics.compare(
            "norm pixel loss dpred", dp.toArray(), numericGradient(p, eps: 1e-3, loss), atol: 1e-4, rtol: 1e-2)
        #expect(cmp.violations == 0, "\(cmp)")
    }
}

// Forward ops against independent Double references (libm for exp/erf, loops for the rest).
import Foundation
import M2DOps
import M2DTensor
import Testing
import TestSupport

func randomBuffer(_ n: Int, seed: UInt64, scale: Float = 1) -> FloatBuffer {
    var rng = Rng(seed: seed)
    let b = FloatBuffer(count: n)
    for i in 0..<n { b.pointer[i] = scale * rng.normal() }
    return b
}

@Suite struct VectorMathTests {
    @Test func expMatchesLibm() {
        let xs = stride(from: -87.0, through: 88.0, by: 0.0137).map { Float($0) }
        let buf = FloatBuffer(xs)
        VectorMath.map(buf.pointer, count: xs.count) { VectorMath.exp($0) }
        var worst = 0.0
        for (i, x) in xs.enumerated() {
            worst = max(worst, abs(Double(buf.pointer[i]) / Foundation.exp(Double(x)) - 1))
        }
        #expect(worst < 3e-7, "max relative error \(worst)")
    }

    @Test func erfMatchesLibm() {
        let xs = stride(from: -6.0, through: 6.0, by: 0.00173).map { Float($0) }
        let buf = FloatBuffer(xs)
        VectorMath.map(buf.pointer, count: xs.count) { VectorMath.erf($0) }
        var worst = 0.0
        for (i, x) in xs.enumerated() { worst = max(worst, abs(Double(buf.pointer[i]) - Foundation.erf(Double(x)))) }
        #expect(worst < 1e-6, "max abs error \(worst)")
    }

    @Test func tailLanesAreHandled() {
        let buf = FloatBuffer([0, 1, 2])
        VectorMath.map(buf.pointer, count: 3) { $0 + 1 }
        #expect(buf.toArray() == [1, 2, 3])
    }
}

@Suite struct ForwardOpTests {
    @Test func geluIsExactErfForm() {
        let x = randomBuffer(1003, seed: 1, scale: 3)
        let xs = x.toArray()
        GELU.forwardInPlace(x.pointer, count: x.count)
        let expected = xs.map { Float(0.5 * Double($0) * (1 + Foundation.erf(Double($0) / 2.0.squareRoot()))) }
        let cmp = Numerics.compare("gelu", x.toArray(), expected, atol: 1e-6, rtol: 1e-6)
        #expect(cmp.violations == 0, "\(cmp)")
    }

    @Test func layerNormMatchesDoubleReference() {
        let R = 5, C = 37
        let x = randomBuffer(R * C, seed: 2, scale: 2), w = randomBuffer(C, seed: 3), b = randomBuffer(C, seed: 4)
        for i in 0..<(R * C) { x.pointer[i] += 3 }  // offset mean
        let out = FloatBuffer(count: R * C), mean = FloatBuffer(count: R), rstd = FloatBuffer(count: R)
        LayerNorm.forward(
            out: out.pointer, mean: mean.pointer, rstd: rstd.pointer, input: x.pointer, weight: w.pointer,
            bias: b.pointer, rows: R, cols: C)
        var expected = [Float](repeating: 0, count: R * C)
        for r in 0..<R {
            let row = (0..<C).map { Double(x.pointer[r * C + $0]) }
            let mu = row.reduce(0, +) / Double(C)
            let v = row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(C)
            for c in 0..<C {
                expected[r * C + c] = Float(
                    (row[c] - mu) / (v + 1e-6).squareRoot() * Double(w.pointer[c]) + Double(b.pointer[c]))
            }
            #expect(abs(Double(mean.pointer[r]) - mu) < 1e-5)
        }
        let cmp = Numerics.compare("layernorm", out.toArray(), expected, atol: 1e-5, rtol: 1e-5)
        #expect(cmp.violations == 0 && cmp.nmse < 1e-10, "\(cmp)")
    }

    @Test func softmaxRowsSumToOneAndMatch() {
        let R = 4, C = 29
        let x = randomBuffer(R * C, seed: 5, scale: 4)
        let xs = x.toArray()
        Softmax.forwardRows(x.pointer, rows: R, cols: C)
        var expected = [Float](repeating: 0, count: R * C)
        for r in 0..<R {
            let row = (0..<C).map { Double(xs[r * C + $0]) }
            let m = row.max()!, e = row.map { Foundation.exp($0 - m) }, s = e.reduce(0, +)
            for c in 0..<C { expected[r * C + c] = Float(e[c] / s) }
        }
        let cmp = Numerics.compare("softmax", x.toArray(), expected, atol: 1e-7, rtol: 1e-5)
        #expect(cmp.violations == 0, "\(cmp)")
    }

    @Test(arguments: [false, true])
    func linearMatchesNaive(accumulate: Bool) {
        let M = 13, C = 24, OC = 10
        let x = randomBuffer(M * C, seed: 6), w = randomBuffer(OC * C, seed: 7), b = randomBuffer(OC, seed: 8)
        let out = randomBuffer(M * OC, seed: 9), before = out.toArray()
        Linear.forward(
            out: out.pointer, input: x.pointer, weight: w.pointer, bias: b.pointer, M: M, C: C, OC: OC,
            accumulate: accumulate)
        let ref = FloatBuffer(count: M * OC)
        Linear.forwardNaive(out: ref.pointer, input: x.pointer, weight: w.pointer, bias: b.pointer, M: M, C: C, OC: OC)
        let expected = accumulate ? zip(ref.toArray(), before).map { $0 + $1 } : ref.toArray()
        let cmp = Numerics.compare("linear", out.toArray(), expected, atol: 1e-5, rtol: 1e-5)
        #expect(cmp.violations == 0, "\(cmp)")
    }

    /// Per-head BLAS GEMMs, and all heads in one oneDNN batched matmul.
    @Test(arguments: ["blas", "onednn"])
    func attentionMatchesNaive(engine name: String) throws {
        let engine = name == "onednn" ? try GEMMEngine(backend: .onednn) : nil
        let B = 2, N = 7, H = 3, hd = 4, D = H * hd
        let qkv = randomBuffer(B * N * 3 * D, seed: 10)
        let out = FloatBuffer(count: B * N * D), probs = FloatBuffer(count: B * H * N * N)
        Attention.forward(
            out: out.pointer, probs: probs.pointer, probsStride: N * N, qkv: qkv.pointer, B: B, N: N, heads: H,
            headDim: hd,
            engine: engine)
        var expected = [Float](repeating: 0, count: B * N * D)
        let scale = 1 / Double(hd).squareRoot()
        for b in 0..<B {
            for h in 0..<H {
                func q(_ i: Int, _ j: Int) -> Double { Double(qkv.pointer[(b * N + i) * 3 * D + h * hd + j]) }
                func k(_ i: Int, _ j: Int) -> Double { Double(qkv.pointer[(b * N + i) * 3 * D + D + h * hd + j]) }
                func v(_ i: Int, _ j: Int) -> Double { Double(qkv.pointer[(b * N + i) * 3 * D + 2 * D + h * hd + j]) }
                for i in 0..<N {
                    let s = (0..<N).map { n in (0..<hd).reduce(0.0) { $0 + q(i, $1) * k(n, $1) } * scale }
                    let m = s.max()!, e = s.map { Foundation.exp($0 - m) }, z = e.reduce(0, +)
                    for j in 0..<hd {
                        expected[(b * N + i) * D + h * hd + j] = Float(
                            (0..<N).reduce(0.0) { $0 + e[$1] / z * v($1, j) })
                    }
                    for n in 0..<N {
                        #expect(abs(Double(probs.pointer[((b * H + h) * N + i) * N + n]) - e[n] / z) < 1e-6)
                    }
                }
            }
        }
        let cmp = Numerics.compare("attention", out.toArray(), expected, atol: 1e-5, rtol: 1e-5)
        #expect(cmp.violations == 0, "\(cmp)")
    }

    /// Ragged sequences (inference batching) give the same rows on oneDNN as on BLAS.
    @Test func raggedAttentionAgreesAcrossBackends() throws {
        let H = 2, hd = 8, D = H * hd, lengths = [5, 9, 3], starts = [0, 5, 14], rows = 17
        let qkv = randomBuffer(rows * 3 * D, seed: 21)
        let blas = FloatBuffer(count: rows * D), onednn = FloatBuffer(count: rows * D),
            scratch = FloatBuffer(count: H * 81)
        Attention.forward(
            out: blas.pointer, probs: scratch.pointer, probsStride: 0, qkv: qkv.pointer, starts: starts,
            lengths: lengths,
            heads: H, headDim: hd)
        Attention.forward(
            out: onednn.pointer, probs: scratch.pointer, probsStride: 0, qkv: qkv.pointer, starts: starts,
            lengths: lengths,
            heads: H, headDim: hd, engine: try GEMMEngine(backend: .onednn))
        let cmp = Numerics.compare("ragged attention", onednn.toArray(), blas.toArray(), atol: 1e-5, rtol: 1e-5)
        #expect(cmp.violations == 0, "\(cmp)")
    }

    @Test func patchEmbedIm2colMatchesDirectConvolution() {
        let F = 2, T = 3, ph = 4, pw = 4, ld = T * pw + 2, D = 5
        let input = randomBuffer(F * ph * ld, seed: 12)
        let w = randomBuffer(D * ph * pw, seed: 13), bias = randomBuffer(D, seed: 14)
        let cols = FloatBuffer(count: F * T * ph * pw), out = FloatBuffer(count: F * T * D)
        PatchEmbed.im2col(
            cols: cols.pointer, input: input.pointer, ldInput: ld, freqPatches: F, timePatches: T, patchHeight: ph,
            patchWidth: pw)
        Linear.forward(
            out: out.pointer, input: cols.pointer, weight: w.pointer, bias: bias.pointer, M: F * T, C: ph * pw, OC: D)
        var expected = [Float](repeating: 0, count: F * T * D)
        for f in 0..<F {
            for t in 0..<T {
                for o in 0..<D {
                    var acc = Double(bias.pointer[o])
                    for i in 0..<ph {
                        for j in 0..<pw {
                            acc +=
                                Double(w.pointer[o * ph * pw + i * pw + j])
                                * Double(input.pointer[(f * ph + i) * ld + t * pw + j])
                        }
                    }
                    expected[(f * T + t) * D + o] = Float(acc)
                }
            }
        }
        let cmp = Numerics.compare("patch embed", out.toArray(), expected, atol: 1e-5, rtol: 1e-5)
        #expect(cmp.violations == 0, "\(cmp)")
    }
}

// The training block: backward against finite differences, forward equal to the inference encoder.
import M2DModel
import M2DOps
import M2DTensor
import M2DTraining
import Testing
import TestSupport

@Suite struct BlockTrainingTests {
    @Test func backwardMatchesFiniteDifferences() {
        let B = 2, N = 3, D = 8, H = 16, heads = 2, R = B * N
        var rng = Rng(seed: 5)
        let count = BlockParameters.count(D: D, hidden: H)
        let params = FloatBuffer(count: count)
        for i in 0..<count { params.pointer[i] = 0.3 * rng.normal() }
        let w = BlockParameters(base: params.pointer, D: D, hidden: H)
        for i in 0..<D { w.norm1W[i] += 1; w.norm2W[i] += 1 }
        let x = FloatBuffer(count: R * D), r = FloatBuffer(count: R * D)
        for i in 0..<(R * D) { x.pointer[i] = rng.normal(); r.pointer[i] = rng.normal() }
        let acts = BlockActivations(B: B, N: N, D: D, hidden: H, heads: heads)
        func loss() -> Double {
            let y = FloatBuffer(count: R * D)
            y.pointer.update(from: x.pointer, count: R * D)
            BlockTraining.forward(y.pointer, w, acts)
            return (0..<(R * D)).reduce(0.0) { $0 + Double(y.pointer[$1]) * Double(r.pointer[$1]) }
        }
        _ = loss()
        let grads = FloatBuffer(count: count), dX = FloatBuffer(count: R * D)
        dX.pointer.update(from: r.pointer, count: R * D)
        let scratch = BlockGradientScratch(B: B, N: N, D: D, hidden: H, heads: heads)
        BlockTraining.backward(
            dX.pointer, w, BlockParameters(base: grads.pointer, D: D, hidden: H), acts, scratch: scratch)
        func numeric(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> [Float] {
            (0..<n).map { i in
                let keep = p[i]
                p[i] = keep + 1e-3; let up = loss()
                p[i] = keep - 1e-3; let down = loss()
                p[i] = keep
                return Float((up - down) / 2e-3)
            }
        }
        let cmpX = Numerics.compare("block dX", dX.toArray(), numeric(x.pointer, R * D), atol: 5e-3, rtol: 2e-2)
        #expect(cmpX.violations == 0, "\(cmpX)")
        let cmpW = Numerics.compare(
            "block dParams", grads.toArray(), numeric(params.pointer, count), atol: 5e-3, rtol: 2e-2)
        #expect(cmpW.violations == 0 && cmpW.cosine > 0.9999, "\(cmpW)")
    }

    @Test func trainingForwardEqualsInferenceForward() {
        let config = ModelConfig(name: "t-80x64p16x16", embedDim: 16, depth: 2, numHeads: 2, inputSize: [80, 64])
        let weights = EncoderWeights.random(config: config, seed: 9)
        var rng = Rng(seed: 10)
        let mel = FloatBuffer(count: 80 * 64)
        for i in 0..<mel.count { mel.pointer[i] = rng.normal() }
        let encoder = ViTEncoder(weights: weights)  // owns the workspace the output points into
        let inference = encoder.forward([EncoderChunk(base: mel.pointer, rowStride: 64, timePatches: 4)])
        // The same encoder assembled from the training block.
        let D = 16, F = 5, T = 4, N = 1 + F * T
        let cols = FloatBuffer(count: F * T * 256), x = FloatBuffer(count: N * D)
        PatchEmbed.im2col(
            cols: cols.pointer, input: mel.pointer, ldInput: 64, freqPatches: F, timePatches: T, patchHeight: 16,
            patchWidth: 16)
        Linear.forward(
            out: x.pointer + D, input: cols.pointer, weight: weights.patchWeight.base, bias: weights.patchBias.base,
            M: F * T, C: 256, OC: D)
        for n in 0..<N {
            for d in 0..<D {
                x.pointer[n * D + d] += weights.posEmbed.base[n * D + d] + (n == 0 ? weights.clsToken.base[d] : 0)
            }
        }
        let acts = BlockActivations(B: 1, N: N, D: D, hidden: 64, heads: 2)
        for i in 0..<2 {
            let e = weights.layout.entry("blocks.\(i).norm1.weight")
            BlockTraining.forward(
                x.pointer, BlockParameters(base: weights.storage.pointer + e.offset, D: D, hidden: 64), acts)
        }
        LayerNorm.forward(
            out: x.pointer, input: x.pointer, weight: weights.normWeight.base, bias: weights.normBias.base, rows: N,
            cols: D)
        let cmp = withExtendedLifetime(encoder) {
            Numerics.compare("training vs inference", x.toArray(), inference.tokens.toArray(), atol: 1e-5, rtol: 1e-5)
        }
        #expect(cmp.violations == 0, "\(cmp)")
    }
}

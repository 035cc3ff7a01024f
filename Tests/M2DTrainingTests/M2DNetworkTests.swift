// The whole M2D step: gradients against finite differences on a tiny network.
import M2DModel
import M2DTensor
import M2DTraining
import Testing
import TestSupport

@Suite struct M2DNetworkTests {
    func tiny() -> (M2DNetwork, FloatBuffer, [PatchMask]) {
        let enc = ModelConfig(name: "t-80x32p16x16", embedDim: 16, depth: 1, numHeads: 2, inputSize: [80, 32])
        let net = M2DNetwork(config: M2DNetworkConfig(encoder: enc, decoderDim: 8, decoderDepth: 1, decoderHeads: 2, maskRatio: 0.6))
        var rng = Rng(seed: 7)
        for i in 0..<net.params.count { net.params.pointer[i] = 0.2 * rng.normal() }
        for i in 0..<net.targetValues.count { net.targetValues.pointer[i] = 0.2 * rng.normal() }
        for name in ["blocks.0.norm1.weight", "blocks.0.norm2.weight", "norm.weight", "decoder_blocks.0.norm1.weight",
                     "decoder_blocks.0.norm2.weight", "decoder_norm.weight", "target_blocks.0.norm1.weight", "target_blocks.0.norm2.weight", "target_norm.weight"] {
            let n = name.hasPrefix("decoder") ? 8 : 16
            for i in 0..<n { net.pointer(name)[i] += 1 }
        }
        let input = FloatBuffer(count: 2 * 80 * 32)
        for i in 0..<input.count { input.pointer[i] = rng.normal() }
        let masks = RandomMasking.draw(batch: 2, patches: 10, ratio: 0.6, rng: &rng)
        return (net, input, masks)
    }

    @Test func gradientsMatchFiniteDifferences() {
        let (net, input, masks) = tiny()
        net.grads.zero()
        // The target branch runs under no_grad: hold its output fixed while probing.
        let target = FloatBuffer(count: 2 * 6 * 16)
        let loss = net.lossAndGradients(input: input.pointer, batch: 2, masks: masks, targetOut: target.pointer)
        #expect(loss > 0 && loss < 4)
        var rng = Rng(seed: 8)
        var probed: [Int] = [], numeric: [Float] = []
        for e in net.trainable.entries {
            for _ in 0..<3 {
                let i = e.offset + Int(rng.next() % UInt64(e.shape.count))
                let keep = net.params.pointer[i]
                net.params.pointer[i] = keep + 1e-2
                let up = net.lossAndGradients(input: input.pointer, batch: 2, masks: masks, fixedTarget: target.pointer)
                net.params.pointer[i] = keep - 1e-2
                let down = net.lossAndGradients(input: input.pointer, batch: 2, masks: masks, fixedTarget: target.pointer)
                net.params.pointer[i] = keep
                numeric.append(Float((up - down) / 2e-2))
                probed.append(i)
            }
        }
        // Recompute the analytic gradient cleanly (the probes above accumulated into grads).
        net.grads.zero()
        _ = net.lossAndGradients(input: input.pointer, batch: 2, masks: masks)
        let picked = probed.map { net.grads.pointer[$0] }
        var detail = ""
        for (k, idx) in probed.enumerated() where abs(picked[k] - numeric[k]) > 3e-3 + 5e-2 * abs(numeric[k]) {
            let entry = net.trainable.entries.last { $0.offset <= idx }!
            detail += "\(entry.name)[\(idx - entry.offset)]: \(picked[k]) vs \(numeric[k]); "
        }
        let cmp = Numerics.compare("m2d grads", picked, numeric, atol: 3e-3, rtol: 5e-2)
        #expect(cmp.violations == 0 && cmp.cosine > 0.999, "\(cmp) \(detail)")
    }

    @Test func forwardLeavesTheTargetAloneAndEMAMovesIt() {
        let (net, input, masks) = tiny()
        net.grads.zero()
        let before = net.targetValues.toArray()
        _ = net.lossAndGradients(input: input.pointer, batch: 2, masks: masks)
        #expect(net.targetValues.toArray() == before)
        net.updateTarget(tau: 0.9)
        let online = net.pointer("norm.bias")[0], target = net.pointer("target_norm.bias")[0]
        #expect(abs(target - (0.9 * before[net.target.entry("target_norm.bias").offset] + 0.1 * online)) < 1e-6)
    }
}

// The whole M2D step, and its variants (all-patch targets, MSM-MAE): gradients against finite
// differences on a tiny network.
import M2DModel
import M2DTensor
@testable import M2DTraining
import Testing
import TestSupport

@Suite struct M2DNetworkTests {
    func tiny(
        _ method: PretrainMethod = .m2d, _ targetInput: TargetInput = .masked
    ) -> (M2DNetwork, FloatBuffer, [PatchMask]) {
        let enc = ModelConfig(name: "t-80x32p16x16", embedDim: 16, depth: 1, numHeads: 2, inputSize: [80, 32])
        let net = M2DNetwork(
            config: M2DNetworkConfig(
                encoder: enc, decoderDim: 8, decoderDepth: 1, decoderHeads: 2, maskRatio: 0.6,
                method: method, targetInput: targetInput))
        var rng = Rng(seed: 7)
        for i in 0..<net.params.count { net.params.pointer[i] = 0.2 * rng.normal() }
        for i in 0..<net.targetValues.count { net.targetValues.pointer[i] = 0.2 * rng.normal() }
        for name in [
            "blocks.0.norm1.weight", "blocks.0.norm2.weight", "norm.weight", "decoder_blocks.0.norm1.weight",
            "decoder_blocks.0.norm2.weight", "decoder_norm.weight", "target_blocks.0.norm1.weight",
            "target_blocks.0.norm2.weight", "target_norm.weight",
        ]
        where method == .m2d || !name.hasPrefix("target") {
            let n = name.hasPrefix("decoder") ? 8 : 16
            for i in 0..<n { net.pointer(name)[i] += 1 }
        }
        let input = FloatBuffer(count: 2 * 80 * 32)
        for i in 0..<input.count { input.pointer[i] = rng.normal() }
        let masks = RandomMasking.draw(batch: 2, patches: 10, ratio: 0.6, rng: &rng)
        return (net, input, masks)
    }

    @Test(arguments: [(PretrainMethod.m2d, TargetInput.masked), (.m2d, .all), (.msmMAE, .masked)])
    func gradientsMatchFiniteDifferences(method: PretrainMethod, targetInput: TargetInput) {
        let (net, input, masks) = tiny(method, targetInput)
        net.grads.zero()
        // The target branch runs under no_grad: hold its output fixed while probing (MSM-MAE's
        // pixel targets depend on no parameter).
        let target = FloatBuffer(count: 2 * 6 * net.config.predictionDim)
        let loss = net.lossAndGradients(
            input: input.pointer, batch: 2, masks: masks, fixedTarget: nil, targetOut: target.pointer)
        #expect(loss > 0 && loss < (method == .m2d ? 4 : 100))
        var rng = Rng(seed: 8)
        var probed: [Int] = [], numeric: [Float] = []
        for e in net.trainable.entries {
            for _ in 0..<3 {
                let i = e.offset + Int(rng.next() % UInt64(e.shape.count))
                let keep = net.params.pointer[i]
                net.params.pointer[i] = keep + 1e-2
                let fixed = method == .m2d ? UnsafePointer(target.pointer) : nil
                let up = net.lossAndGradients(
                    input: input.pointer, batch: 2, masks: masks, fixedTarget: fixed, targetOut: nil)
                net.params.pointer[i] = keep - 1e-2
                let down = net.lossAndGradients(
                    input: input.pointer, batch: 2, masks: masks, fixedTarget: fixed, targetOut: nil)
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
        let cmp = Numerics.compare("\(net.config.variantName) grads", picked, numeric, atol: 3e-3, rtol: 5e-2)
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

    @Test func allPatchTargetsDifferFromMaskedOnlyTargets() {
        // Same weights, input and masks: the target encoder sees other tokens, so its features differ,
        // while MSM-MAE has no target network at all.
        let (masked, input, masks) = tiny(.m2d, .masked)
        let (all, _, _) = tiny(.m2d, .all)
        let a = FloatBuffer(count: 2 * 6 * 16), b = FloatBuffer(count: 2 * 6 * 16)
        _ = masked.lossAndGradients(
            input: input.pointer, batch: 2, masks: masks, fixedTarget: nil, targetOut: a.pointer)
        _ = all.lossAndGradients(input: input.pointer, batch: 2, masks: masks, fixedTarget: nil, targetOut: b.pointer)
        #expect(masked.params.toArray() == all.params.toArray())
        let diff = zip(a.toArray(), b.toArray()).map { abs($0 - $1) }.max() ?? 0
        #expect(diff > 1e-3)
        #expect(tiny(.msmMAE).0.target.entries.isEmpty)
    }
}

/// The stages at which the backward pass hands gradients to the all-reduce cover the gradients exactly once.
@Suite struct GradientStageTests {
    @Test func stagesPartitionTheGradients() {
        let encoder = ModelConfig(name: "t", embedDim: 32, depth: 3, numHeads: 2, inputSize: [80, 64])
        let network = M2DNetwork(
            config: M2DNetworkConfig(encoder: encoder, decoderDim: 16, decoderDepth: 2, decoderHeads: 2))
        let ranges = network.gradientStages.all.sorted { $0.lowerBound < $1.lowerBound }
        #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == network.grads.count)
        for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound && !a.isEmpty) }
        #expect(network.gradientStages.blocks.count == 3)
    }

    @Test func everyStageIsFinishedOnceInBackwardOrder() throws {
        let encoder = ModelConfig(name: "t", embedDim: 32, depth: 2, numHeads: 2, inputSize: [80, 64])
        let config = M2DNetworkConfig(encoder: encoder, decoderDim: 16, decoderDepth: 1, decoderHeads: 2)
        let network = M2DNetwork(config: config)
        network.initialize(seed: 1)
        var rng = Rng(seed: 2)
        let input = (0..<(2 * 80 * 64)).map { _ in rng.normal() }
        let masks = RandomMasking.draw(batch: 2, patches: config.patches, ratio: config.maskRatio, rng: &rng)
        network.grads.zero()
        // Each range, when handed over, already holds its final gradient: later stages never write it.
        var handed: [(Range<Int>, [Float])] = []
        _ = input.withUnsafeBufferPointer { x in
            network.lossAndGradients(input: x.baseAddress!, batch: 2, masks: masks) { range in
                let values = UnsafeBufferPointer(start: network.grads.pointer + range.lowerBound, count: range.count)
                handed.append((range, Array(values)))
            }
        }
        #expect(handed.map(\.0) == network.gradientStages.all)
        for (range, values) in handed {
            let now = Array(UnsafeBufferPointer(start: network.grads.pointer + range.lowerBound, count: range.count))
            #expect(now == values, "gradients \(range) changed after they were handed to the all-reduce")
        }
    }
}

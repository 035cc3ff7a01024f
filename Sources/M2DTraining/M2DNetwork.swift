// M2DNetwork: the M2D pre-training network of docs/NUMERICS.md §5.3 (models_mae.py M2DViT): online
// encoder on visible patches, predictor (MAE decoder) over all positions, target encoder on
// masked patches only (no gradient), per-token standardized targets, 2 - 2 cos loss; with its
// hand-written backward. Parameters live in flat buffers named by the official keys.
import Foundation
import M2DModel
import M2DOps
import M2DTensor

/// What the predictor learns to predict (issue "training variants"): M2D's EMA target features, or
/// MSM-MAE's standardized log-mel patches (an MAE on spectrograms, no target network).
public enum PretrainMethod: String, Codable, Sendable, CaseIterable {
    case m2d
    case msmMAE = "msm-mae"
}

/// The target encoder's input: M2D's masked patches only, or all patches (the data2vec-style
/// conventional setting of the M2D paper's Table 3; the loss is still on the masked ones).
public enum TargetInput: String, Codable, Sendable, CaseIterable {
    case masked
    case all
}

public struct M2DNetworkConfig: Sendable, Codable, Equatable {
    public var encoder: ModelConfig
    public var decoderDim = 512
    public var decoderDepth = 8
    public var decoderHeads = 16
    public var maskRatio = 0.7
    public var method = PretrainMethod.m2d
    public var targetInput = TargetInput.masked

    public init(
        encoder: ModelConfig, decoderDim: Int = 512, decoderDepth: Int = 8, decoderHeads: Int = 16,
        maskRatio: Double = 0.7,
        method: PretrainMethod = .m2d, targetInput: TargetInput = .masked
    ) {
        self.encoder = encoder
        self.decoderDim = decoderDim
        self.decoderDepth = decoderDepth
        self.decoderHeads = decoderHeads
        self.maskRatio = maskRatio
        self.method = method
        self.targetInput = targetInput
    }

    /// Checkpoints written before the variants existed have no `method` or `targetInput`: M2D.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        encoder = try c.decode(ModelConfig.self, forKey: .encoder)
        decoderDim = try c.decode(Int.self, forKey: .decoderDim)
        decoderDepth = try c.decode(Int.self, forKey: .decoderDepth)
        decoderHeads = try c.decode(Int.self, forKey: .decoderHeads)
        maskRatio = try c.decode(Double.self, forKey: .maskRatio)
        method = try c.decodeIfPresent(PretrainMethod.self, forKey: .method) ?? .m2d
        targetInput = try c.decodeIfPresent(TargetInput.self, forKey: .targetInput) ?? .masked
    }

    public var patches: Int { encoder.freqPatches * encoder.gridTimePatches }
    public var keep: Int { RandomMasking.keepCount(patches: patches, ratio: maskRatio) }
    /// Features the predictor outputs per patch: the encoder width (M2D) or the patch's values (MSM-MAE).
    public var predictionDim: Int { method == .msmMAE ? encoder.patchHeight * encoder.patchWidth : encoder.embedDim }
    /// A readable name of the variant for logs and checkpoints.
    public var variantName: String { method == .msmMAE ? "msm-mae" : "m2d (target input: \(targetInput.rawValue))" }
}

public final class M2DNetwork: @unchecked Sendable {
    // SAFETY: used by one training thread.
    public let config: M2DNetworkConfig
    /// Trainable: online encoder (cls_token, patch_embed, blocks, norm) and predictor.
    public let trainable: ParameterLayout
    /// Frozen: pos_embed, decoder_pos_embed.
    public let frozen: ParameterLayout
    /// EMA target: target_blocks, target_norm.
    public let target: ParameterLayout
    public let params, grads, frozenValues, targetValues: FloatBuffer
    /// Runs the Linear-layer products (OpenBLAS, or oneDNN made with `weightsChange: true`).
    public let engine: GEMMEngine

    public init(config: M2DNetworkConfig, engine: GEMMEngine = .openBLAS) {
        precondition(
            engine.backend == .openblas || engine.weightsChange,
            "a training engine must be made with weightsChange: true")
        self.config = config
        self.engine = engine
        let e = config.encoder, D = e.embedDim, Dd = config.decoderDim, L = config.patches
        var t: [(String, Shape)] = [
            ("cls_token", [1, 1, D]), ("patch_embed.proj.weight", [D, 1, e.patchHeight, e.patchWidth]),
            ("patch_embed.proj.bias", [D]),
        ]
        for i in 0..<e.depth { t += ParameterLayout.blockItems("blocks.\(i)", D: D, hidden: e.mlpHidden) }
        t += [
            ("norm.weight", [D]), ("norm.bias", [D]), ("mask_token", [1, 1, Dd]), ("decoder_embed.weight", [Dd, D]),
            ("decoder_embed.bias", [Dd]),
        ]
        for i in 0..<config.decoderDepth {
            t += ParameterLayout.blockItems("decoder_blocks.\(i)", D: Dd, hidden: 4 * Dd)
        }
        let P = config.predictionDim
        t += [
            ("decoder_norm.weight", [Dd]), ("decoder_norm.bias", [Dd]), ("decoder_pred.weight", [P, Dd]),
            ("decoder_pred.bias", [P]),
        ]
        trainable = ParameterLayout(t)
        frozen = ParameterLayout([("pos_embed", [1, 1 + L, D]), ("decoder_pos_embed", [1, 1 + L, Dd])])
        var g: [(String, Shape)] = []
        if config.method == .m2d {
            for i in 0..<e.depth { g += ParameterLayout.blockItems("target_blocks.\(i)", D: D, hidden: e.mlpHidden) }
            g += [("target_norm.weight", [D]), ("target_norm.bias", [D])]
        }
        target = ParameterLayout(g)
        params = FloatBuffer(count: trainable.count)
        grads = FloatBuffer(count: trainable.count)
        frozenValues = FloatBuffer(count: frozen.count)
        targetValues = FloatBuffer(count: target.count)
        PositionEmbedding.fill(
            frozenValues.pointer + frozen.entry("pos_embed").offset, embedDim: D, gridHeight: e.freqPatches,
            gridWidth: e.gridTimePatches)
        PositionEmbedding.fill(
            frozenValues.pointer + frozen.entry("decoder_pos_embed").offset, embedDim: Dd, gridHeight: e.freqPatches,
            gridWidth: e.gridTimePatches)
    }

    /// A tensor of any of the three buffers by official name.
    public func pointer(_ name: String) -> UnsafeMutablePointer<Float> {
        for (layout, buffer) in [(trainable, params), (frozen, frozenValues), (target, targetValues)]
        where layout.entries.contains(where: { $0.name == name }) {
            return buffer.pointer + layout.entry(name).offset
        }
        preconditionFailure("no tensor \(name)")
    }

    public func gradient(_ name: String) -> UnsafeMutablePointer<Float> { grads.pointer + trainable.entry(name).offset }

    func block(_ prefix: String, _ i: Int, grads g: Bool = false) -> BlockParameters {
        let name = "\(prefix).\(i).norm1.weight"
        let hidden = prefix == "decoder_blocks" ? 4 * config.decoderDim : config.encoder.mlpHidden
        let D = prefix == "decoder_blocks" ? config.decoderDim : config.encoder.embedDim
        if prefix == "target_blocks" {
            return BlockParameters(base: targetValues.pointer + target.entry(name).offset, D: D, hidden: hidden)
        }
        return BlockParameters(
            base: (g ? grads.pointer : params.pointer) + trainable.entry(name).offset, D: D, hidden: hidden)
    }

    /// Forward and backward of one batch: `input` (B, mels, frames) normalized log-mel crops of
    /// exactly input_size, one mask per sample. Gradients are accumulated into `grads` (zero them
    /// first); returns the loss. `fixedTarget` (B*(L-K), D), when given, replaces the target
    /// encoder's output (finite-difference tests hold the no-gradient branch fixed with it);
    /// `targetOut` receives the target encoder's output.
    public func lossAndGradients(
        input: UnsafePointer<Float>, batch B: Int, masks: [PatchMask],
        fixedTarget: UnsafePointer<Float>? = nil, targetOut: UnsafeMutablePointer<Float>? = nil
    ) -> Double {
        let e = config.encoder, D = e.embedDim, Dd = config.decoderDim, L = config.patches, K = config.keep, M = L - K
        let F = e.freqPatches, T = e.gridTimePatches, ph = e.patchHeight, pw = e.patchWidth, patchK = ph * pw
        let frames = e.inputSize[1], mels = e.inputSize[0]
        let pos = pointer("pos_embed"), dpos = pointer("decoder_pos_embed"), cls = pointer("cls_token")
        // 1. Patch tokens + positions, all L per sample: X0 (B*L, D).
        let cols = FloatBuffer(count: B * L * patchK), x0 = FloatBuffer(count: B * L * D)
        for b in 0..<B {
            PatchEmbed.im2col(
                cols: cols.pointer + b * L * patchK, input: input + b * mels * frames, ldInput: frames,
                freqPatches: F, timePatches: T, patchHeight: ph, patchWidth: pw)
        }
        Linear.forward(
            out: x0.pointer, input: cols.pointer, weight: pointer("patch_embed.proj.weight"),
            bias: pointer("patch_embed.proj.bias"),
            M: B * L, C: patchK, OC: D, engine: engine)
        for b in 0..<B { for n in 0..<L { for d in 0..<D { x0.pointer[(b * L + n) * D + d] += pos[(1 + n) * D + d] } } }
        // 2. Online encoder on CLS + visible tokens (shuffled order).
        let nv = 1 + K
        let xv = FloatBuffer(count: B * nv * D)
        for b in 0..<B {
            gatherWithCLS(
                into: xv.pointer + b * nv * D, cls: cls, pos: pos, tokens: x0.pointer + b * L * D,
                picks: masks[b].visible, dim: D)
        }
        let encActs = (0..<e.depth).map { _ in
            BlockActivations(B: B, N: nv, D: D, hidden: e.mlpHidden, heads: e.numHeads)
        }
        for i in 0..<e.depth { BlockTraining.forward(xv.pointer, block("blocks", i), encActs[i], engine: engine) }
        let latent = FloatBuffer(count: B * nv * D), latentMean = FloatBuffer(count: B * nv),
            latentRstd = FloatBuffer(count: B * nv)
        // xv now holds the output of the online blocks (the final norm's input, kept for backward).
        LayerNorm.forward(
            out: latent.pointer, mean: latentMean.pointer, rstd: latentRstd.pointer, input: xv.pointer,
            weight: pointer("norm.weight"), bias: pointer("norm.bias"), rows: B * nv, cols: D)
        // 3. Predictor over CLS + all L positions.
        let emb = FloatBuffer(count: B * nv * Dd)
        Linear.forward(
            out: emb.pointer, input: latent.pointer, weight: pointer("decoder_embed.weight"),
            bias: pointer("decoder_embed.bias"),
            M: B * nv, C: D, OC: Dd, engine: engine)
        let nd = 1 + L, maskToken = pointer("mask_token")
        let z = FloatBuffer(count: B * nd * Dd)
        let restores = masks.map(\.restore)
        for b in 0..<B {
            for d in 0..<Dd { z.pointer[b * nd * Dd + d] = emb.pointer[b * nv * Dd + d] + dpos[d] }
            for p in 0..<L {
                let j = restores[b][p], row = z.pointer + (b * nd + 1 + p) * Dd
                let src = j < K ? emb.pointer + (b * nv + 1 + j) * Dd : maskToken
                for d in 0..<Dd { row[d] = src[d] + dpos[(1 + p) * Dd + d] }
            }
        }
        let decActs = (0..<config.decoderDepth).map { _ in
            BlockActivations(B: B, N: nd, D: Dd, hidden: 4 * Dd, heads: config.decoderHeads)
        }
        for i in 0..<config.decoderDepth {
            BlockTraining.forward(z.pointer, block("decoder_blocks", i), decActs[i], engine: engine)
        }
        let zn = FloatBuffer(count: B * nd * Dd), znMean = FloatBuffer(count: B * nd),
            znRstd = FloatBuffer(count: B * nd)
        LayerNorm.forward(
            out: zn.pointer, mean: znMean.pointer, rstd: znRstd.pointer, input: z.pointer,
            weight: pointer("decoder_norm.weight"), bias: pointer("decoder_norm.bias"), rows: B * nd, cols: Dd)
        let P = config.predictionDim
        let pred = FloatBuffer(count: B * nd * P)
        Linear.forward(
            out: pred.pointer, input: zn.pointer, weight: pointer("decoder_pred.weight"),
            bias: pointer("decoder_pred.bias"),
            M: B * nd, C: Dd, OC: P, engine: engine)
        let pm = FloatBuffer(count: B * M * P)
        for b in 0..<B {
            for (j, p) in masks[b].masked.enumerated() {
                (pm.pointer + (b * M + j) * P).update(from: pred.pointer + (b * nd + 1 + p) * P, count: P)
            }
        }
        // 4-5. Targets of the masked patches and the loss.
        let normalizedTarget = FloatBuffer(count: B * M * P), dpm = FloatBuffer(count: B * M * P)
        let loss: Double
        switch config.method {
        case .m2d:
            let tm = targetFeatures(x0: x0.pointer, batch: B, masks: masks)
            if let fixedTarget { tm.pointer.update(from: fixedTarget, count: B * M * D) }
            targetOut?.update(from: tm.pointer, count: B * M * D)
            loss = M2DLoss.forward(
                pred: pm.pointer, target: tm.pointer, normalizedTarget: normalizedTarget.pointer, tokens: B * M, dim: D)
            M2DLoss.backward(
                dPred: dpm.pointer, pred: pm.pointer, normalizedTarget: normalizedTarget.pointer, tokens: B * M, dim: D)
        case .msmMAE:
            let patches = FloatBuffer(count: B * M * P)
            for b in 0..<B {
                for (j, p) in masks[b].masked.enumerated() {
                    (patches.pointer + (b * M + j) * P).update(from: cols.pointer + (b * L + p) * P, count: P)
                }
            }
            loss = NormPixelLoss.forward(
                pred: pm.pointer, patches: patches.pointer, normalizedTarget: normalizedTarget.pointer, tokens: B * M,
                dim: P)
            targetOut?.update(from: normalizedTarget.pointer, count: B * M * P)
            NormPixelLoss.backward(
                dPred: dpm.pointer, pred: pm.pointer, normalizedTarget: normalizedTarget.pointer, tokens: B * M, dim: P)
        }

        // Backward.
        let dpred = FloatBuffer(count: B * nd * P)
        for b in 0..<B {
            for (j, p) in masks[b].masked.enumerated() {
                (dpred.pointer + (b * nd + 1 + p) * P).update(from: dpm.pointer + (b * M + j) * P, count: P)
            }
        }
        let dzn = FloatBuffer(count: B * nd * Dd), dz = FloatBuffer(count: B * nd * Dd)
        Linear.backward(
            dInput: dzn.pointer, dWeight: gradient("decoder_pred.weight"), dBias: gradient("decoder_pred.bias"),
            dOut: dpred.pointer,
            input: zn.pointer, weight: pointer("decoder_pred.weight"), M: B * nd, C: Dd, OC: P, engine: engine)
        LayerNorm.backward(
            dInput: dz.pointer, dWeight: gradient("decoder_norm.weight"), dBias: gradient("decoder_norm.bias"),
            dOut: dzn.pointer,
            input: z.pointer, weight: pointer("decoder_norm.weight"), mean: znMean.pointer, rstd: znRstd.pointer,
            rows: B * nd, cols: Dd)
        for i in (0..<config.decoderDepth).reversed() {
            BlockTraining.backward(
                dz.pointer, block("decoder_blocks", i), block("decoder_blocks", i, grads: true), decActs[i],
                engine: engine)
        }
        let demb = FloatBuffer(count: B * nv * Dd), dMaskToken = gradient("mask_token")
        for b in 0..<B {
            for d in 0..<Dd { demb.pointer[b * nv * Dd + d] += dz.pointer[b * nd * Dd + d] }
            for p in 0..<L {
                let j = restores[b][p], src = dz.pointer + (b * nd + 1 + p) * Dd
                let dst = j < K ? demb.pointer + (b * nv + 1 + j) * Dd : dMaskToken
                for d in 0..<Dd { dst[d] += src[d] }
            }
        }
        let dlatent = FloatBuffer(count: B * nv * D), dxv = FloatBuffer(count: B * nv * D)
        Linear.backward(
            dInput: dlatent.pointer, dWeight: gradient("decoder_embed.weight"), dBias: gradient("decoder_embed.bias"),
            dOut: demb.pointer,
            input: latent.pointer, weight: pointer("decoder_embed.weight"), M: B * nv, C: D, OC: Dd, engine: engine)
        LayerNorm.backward(
            dInput: dxv.pointer, dWeight: gradient("norm.weight"), dBias: gradient("norm.bias"), dOut: dlatent.pointer,
            input: xv.pointer, weight: pointer("norm.weight"),
            mean: latentMean.pointer, rstd: latentRstd.pointer, rows: B * nv, cols: D)
        for i in (0..<e.depth).reversed() {
            BlockTraining.backward(
                dxv.pointer, block("blocks", i), block("blocks", i, grads: true), encActs[i], engine: engine)
        }
        let dx0 = FloatBuffer(count: B * L * D), dcls = gradient("cls_token")
        for b in 0..<B {
            for d in 0..<D { dcls[d] += dxv.pointer[b * nv * D + d] }
            for (k, p) in masks[b].visible.enumerated() {
                let src = dxv.pointer + (b * nv + 1 + k) * D, dst = dx0.pointer + (b * L + p) * D
                for d in 0..<D { dst[d] += src[d] }
            }
        }
        Linear.backward(
            dInput: nil, dWeight: gradient("patch_embed.proj.weight"), dBias: gradient("patch_embed.proj.bias"),
            dOut: dx0.pointer,
            input: cols.pointer, weight: pointer("patch_embed.proj.weight"), M: B * L, C: patchK, OC: D, engine: engine)
        withExtendedLifetime(
            (cols, x0, xv, latent, latentMean, latentRstd, emb, z, zn, znMean, znRstd, pred, pm, normalizedTarget)
        ) {}
        withExtendedLifetime((dpm, dpred, dzn, dz, demb, dlatent, dxv, dx0, encActs, decActs)) {}
        return loss
    }

    /// The target encoder's features of the masked patches (B*M, D), in mask order, no gradient: its
    /// input is CLS + the masked tokens (M2D) or CLS + all tokens in patch order (conventional).
    private func targetFeatures(x0: UnsafePointer<Float>, batch B: Int, masks: [PatchMask]) -> FloatBuffer {
        let e = config.encoder, D = e.embedDim, L = config.patches, M = L - config.keep
        let everyPatch = (0..<L).map { $0 }[...]
        let nt = 1 + (config.targetInput == .all ? L : M)
        let xt = FloatBuffer(count: B * nt * D)
        for b in 0..<B {
            gatherWithCLS(
                into: xt.pointer + b * nt * D, cls: pointer("cls_token"), pos: pointer("pos_embed"),
                tokens: x0 + b * L * D,
                picks: config.targetInput == .all ? everyPatch : masks[b].masked, dim: D)
        }
        let acts = BlockActivations(B: B, N: nt, D: D, hidden: e.mlpHidden, heads: e.numHeads)
        for i in 0..<e.depth { BlockTraining.forward(xt.pointer, block("target_blocks", i), acts, engine: engine) }
        LayerNorm.forward(
            out: xt.pointer, input: xt.pointer, weight: pointer("target_norm.weight"),
            bias: pointer("target_norm.bias"), rows: B * nt, cols: D)
        let tm = FloatBuffer(count: B * M * D)
        for b in 0..<B {
            if config.targetInput == .all {
                for (j, p) in masks[b].masked.enumerated() {
                    (tm.pointer + (b * M + j) * D).update(from: xt.pointer + (b * nt + 1 + p) * D, count: D)
                }
            } else {
                (tm.pointer + b * M * D).update(from: xt.pointer + (b * nt + 1) * D, count: M * D)
            }
        }
        withExtendedLifetime(acts) {}
        return tm
    }

    /// out (1 + picks, D): the CLS row (cls_token + pos_embed[0]) then tokens[picks] in pick order
    /// (the online encoder's visible and the target's masked sequences).
    private func gatherWithCLS(
        into out: UnsafeMutablePointer<Float>, cls: UnsafePointer<Float>, pos: UnsafePointer<Float>,
        tokens: UnsafePointer<Float>, picks: ArraySlice<Int>, dim D: Int
    ) {
        for d in 0..<D { out[d] = cls[d] + pos[d] }
        for (k, p) in picks.enumerated() { (out + (1 + k) * D).update(from: tokens + p * D, count: D) }
    }
}

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
    let weights, gradients: TrainableViews
    let fixed: FixedViews
    let ema: EMA
    /// The step's buffers, for the last batch size seen.
    var workspace: TrainingWorkspace?

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
        weights = TrainableViews(trainable, params, config)
        gradients = TrainableViews(trainable, grads, config)
        fixed = FixedViews(frozen: frozen, frozenValues, target: target, targetValues, config)
        ema = EMA(online: trainable, target: target)
        PositionEmbedding.fill(
            fixed.posEmbed, embedDim: D, gridHeight: e.freqPatches, gridWidth: e.gridTimePatches)
        PositionEmbedding.fill(
            fixed.decoderPosEmbed, embedDim: Dd, gridHeight: e.freqPatches, gridWidth: e.gridTimePatches)
    }

    /// A tensor of any of the three buffers by official name (checkpoints, tests; not the step).
    public func pointer(_ name: String) -> UnsafeMutablePointer<Float> {
        for (layout, buffer) in [(trainable, params), (frozen, frozenValues), (target, targetValues)]
        where layout.entries.contains(where: { $0.name == name }) {
            return buffer.pointer + layout.entry(name).offset
        }
        preconditionFailure("no tensor \(name)")
    }

    public func gradient(_ name: String) -> UnsafeMutablePointer<Float> { grads.pointer + trainable.entry(name).offset }

    /// target <- tau * target + (1 - tau) * online (docs/NUMERICS.md §5.4).
    public func updateTarget(tau: Float) { ema.update(online: params, target: targetValues, tau: tau) }

    /// Forward and backward of one batch: `input` (B, mels, frames) normalized log-mel crops of
    /// exactly input_size, one mask per sample. Gradients are accumulated into `grads` (zero them
    /// first); returns the loss.
    /// `gradientsDone` is called with each range of `grads` as soon as the backward pass has finished it
    /// (the ranges cover `grads` once): data-parallel runs start reducing there, while the backward goes on.
    public func lossAndGradients(
        input: UnsafePointer<Float>, batch B: Int, masks: [PatchMask], gradientsDone: ((Range<Int>) -> Void)? = nil
    ) -> Double {
        step(input: input, batch: B, masks: masks, fixedTarget: nil, targetOut: nil, gradientsDone: gradientsDone)
    }

    /// Where the backward pass finishes gradients, in its order (docs/DATA-PARALLEL.md): the predictor's blocks,
    /// norm and prediction, and the mask token, after the predictor's backward; the encoder's final norm and the
    /// decoder embedding at the start of the encoder's backward; each encoder block after its own backward; the
    /// CLS token and patch embedding at the end.
    public struct GradientStages: Sendable {
        public let predictor: [Range<Int>]
        public let encoderHead: [Range<Int>]
        /// Block i's range.
        public let blocks: [Range<Int>]
        public let stem: Range<Int>
        public var all: [Range<Int>] { predictor + encoderHead + blocks.reversed() + [stem] }
    }

    public var gradientStages: GradientStages {
        let depth = config.encoder.depth
        func at(_ name: String) -> Int { trainable.entry(name).offset }
        let blockStarts = (0..<depth).map { at("blocks.\($0).norm1.weight") } + [at("norm.weight")]
        let decoder = at("decoder_blocks.0.norm1.weight")
        return GradientStages(
            predictor: [decoder..<trainable.count, at("mask_token")..<at("decoder_embed.weight")],
            encoderHead: [at("norm.weight")..<at("mask_token"), at("decoder_embed.weight")..<decoder],
            blocks: (0..<depth).map { blockStarts[$0]..<blockStarts[$0 + 1] }, stem: 0..<blockStarts[0])
    }

    /// `lossAndGradients` for tests: `fixedTarget` (B*M, P) replaces the target branch's output (finite
    /// differences hold the no-gradient branch fixed with it); `targetOut` receives that output.
    func lossAndGradients(
        input: UnsafePointer<Float>, batch B: Int, masks: [PatchMask], fixedTarget: UnsafePointer<Float>?,
        targetOut: UnsafeMutablePointer<Float>?
    ) -> Double {
        step(input: input, batch: B, masks: masks, fixedTarget: fixedTarget, targetOut: targetOut)
    }

    /// The workspace for batches of B, made on first use and kept while B does not change.
    func workspace(batch B: Int) -> TrainingWorkspace {
        if let ws = workspace, ws.batch == B { return ws }
        let ws = TrainingWorkspace(config, batch: B)
        workspace = ws
        return ws
    }
}

// One M2D training step (docs/NUMERICS.md §5.3, models_mae.py M2DViT.forward): patch tokens, the
// online encoder on the visible ones, the predictor over every position, the targets of the masked
// ones, the loss, then the hand-written backward in the mirror order. Buffers come from the
// network's workspace; parameters from views resolved at construction.
import M2DModel
import M2DOps
import M2DTensor

extension M2DNetwork {
    func step(
        input: UnsafePointer<Float>, batch B: Int, masks: [PatchMask], fixedTarget: UnsafePointer<Float>?,
        targetOut: UnsafeMutablePointer<Float>?, gradientsDone: ((Range<Int>) -> Void)? = nil
    ) -> Double {
        let stages = gradientsDone.map { _ in gradientStages }
        let ws = workspace(batch: B)
        ws.zeroAccumulators()
        embedPatches(input, B, ws)
        encodeVisible(B, masks, ws)
        predict(B, masks, ws)
        let loss = lossOfMasked(B, masks, ws, fixedTarget: fixedTarget, targetOut: targetOut)
        backwardPredictor(B, masks, ws)
        if let gradientsDone, let stages { stages.predictor.forEach(gradientsDone) }
        backwardEncoder(B, masks, ws) { stage in
            guard let gradientsDone, let stages else { return }
            switch stage {
            case .head: stages.encoderHead.forEach(gradientsDone)
            case let .block(i): gradientsDone(stages.blocks[i])
            case .stem: gradientsDone(stages.stem)
            }
        }
        return loss
    }

    /// 1. Patch tokens + positions, all L per sample: x0 (B*L, D).
    private func embedPatches(_ input: UnsafePointer<Float>, _ B: Int, _ ws: TrainingWorkspace) {
        let e = config.encoder, D = e.embedDim, L = config.patches, patchK = e.patchHeight * e.patchWidth
        let frames = e.inputSize[1], mels = e.inputSize[0], pos = fixed.posEmbed
        for b in 0..<B {
            PatchEmbed.im2col(
                cols: ws.cols.pointer + b * L * patchK, input: input + b * mels * frames, ldInput: frames,
                freqPatches: e.freqPatches, timePatches: e.gridTimePatches, patchHeight: e.patchHeight,
                patchWidth: e.patchWidth)
        }
        Linear.forward(
            out: ws.x0.pointer, input: ws.cols.pointer, weight: weights.patch.weight, bias: weights.patch.bias,
            M: B * L, C: patchK, OC: D, engine: engine)
        let x0 = ws.x0.pointer
        for b in 0..<B { for n in 0..<L { for d in 0..<D { x0[(b * L + n) * D + d] += pos[(1 + n) * D + d] } } }
    }

    /// 2. The online encoder on CLS + visible tokens (shuffled order), then its final norm.
    private func encodeVisible(_ B: Int, _ masks: [PatchMask], _ ws: TrainingWorkspace) {
        let e = config.encoder, D = e.embedDim, L = config.patches, nv = 1 + config.keep
        for b in 0..<B {
            gatherWithCLS(
                into: ws.xv.pointer + b * nv * D, tokens: ws.x0.pointer + b * L * D, picks: masks[b].visible, dim: D)
        }
        for i in 0..<e.depth { BlockTraining.forward(ws.xv.pointer, weights.blocks[i], ws.encoder[i], engine: engine) }
        // xv now holds the output of the online blocks (the final norm's input, kept for backward).
        LayerNorm.forward(
            out: ws.latent.pointer, mean: ws.latentMean.pointer, rstd: ws.latentRstd.pointer, input: ws.xv.pointer,
            weight: weights.norm.weight, bias: weights.norm.bias, rows: B * nv, cols: D)
    }

    /// 3. The predictor over CLS + all L positions (mask tokens where patches were hidden).
    private func predict(_ B: Int, _ masks: [PatchMask], _ ws: TrainingWorkspace) {
        let D = config.encoder.embedDim, Dd = config.decoderDim, L = config.patches, K = config.keep
        let nv = 1 + K, nd = 1 + L, P = config.predictionDim, dpos = fixed.decoderPosEmbed
        Linear.forward(
            out: ws.emb.pointer, input: ws.latent.pointer, weight: weights.decoderEmbed.weight,
            bias: weights.decoderEmbed.bias, M: B * nv, C: D, OC: Dd, engine: engine)
        let emb = ws.emb.pointer, z = ws.z.pointer
        for b in 0..<B {
            for d in 0..<Dd { z[b * nd * Dd + d] = emb[b * nv * Dd + d] + dpos[d] }
            for p in 0..<L {
                let j = masks[b].restore[p], row = z + (b * nd + 1 + p) * Dd
                let visibleRow: Int = (b * nv + 1 + j) * Dd
                let src: UnsafePointer<Float> =
                    j < K ? UnsafePointer(emb + visibleRow) : UnsafePointer(weights.maskToken)
                for d in 0..<Dd { row[d] = src[d] + dpos[(1 + p) * Dd + d] }
            }
        }
        for i in 0..<config.decoderDepth {
            BlockTraining.forward(z, weights.decoderBlocks[i], ws.decoder[i], engine: engine)
        }
        LayerNorm.forward(
            out: ws.zn.pointer, mean: ws.znMean.pointer, rstd: ws.znRstd.pointer, input: z,
            weight: weights.decoderNorm.weight, bias: weights.decoderNorm.bias, rows: B * nd, cols: Dd)
        Linear.forward(
            out: ws.pred.pointer, input: ws.zn.pointer, weight: weights.decoderPred.weight,
            bias: weights.decoderPred.bias, M: B * nd, C: Dd, OC: P, engine: engine)
        let M = L - K
        for b in 0..<B {
            for (j, p) in masks[b].masked.enumerated() {
                (ws.predicted.pointer + (b * M + j) * P).update(from: ws.pred.pointer + (b * nd + 1 + p) * P, count: P)
            }
        }
    }

    /// 4-5. The targets of the masked patches and the loss, with its gradient in dPredicted.
    private func lossOfMasked(
        _ B: Int, _ masks: [PatchMask], _ ws: TrainingWorkspace, fixedTarget: UnsafePointer<Float>?,
        targetOut: UnsafeMutablePointer<Float>?
    ) -> Double {
        let L = config.patches, M = L - config.keep, P = config.predictionDim, T = B * M
        switch config.method {
        case .m2d:
            targetFeatures(B, masks, ws)
            if let fixedTarget { ws.target.pointer.update(from: fixedTarget, count: T * P) }
            targetOut?.update(from: ws.target.pointer, count: T * P)
            let loss = M2DLoss.forward(
                pred: ws.predicted.pointer, target: ws.target.pointer, normalizedTarget: ws.normalizedTarget.pointer,
                tokens: T, dim: P)
            M2DLoss.backward(
                dPred: ws.dPredicted.pointer, pred: ws.predicted.pointer, normalizedTarget: ws.normalizedTarget.pointer,
                tokens: T, dim: P)
            return loss
        case .msmMAE:
            for b in 0..<B {
                for (j, p) in masks[b].masked.enumerated() {
                    (ws.target.pointer + (b * M + j) * P).update(from: ws.cols.pointer + (b * L + p) * P, count: P)
                }
            }
            let loss = NormPixelLoss.forward(
                pred: ws.predicted.pointer, patches: ws.target.pointer, normalizedTarget: ws.normalizedTarget.pointer,
                tokens: T, dim: P)
            targetOut?.update(from: ws.normalizedTarget.pointer, count: T * P)
            NormPixelLoss.backward(
                dPred: ws.dPredicted.pointer, pred: ws.predicted.pointer, normalizedTarget: ws.normalizedTarget.pointer,
                tokens: T, dim: P)
            return loss
        }
    }

    /// The target encoder's features of the masked patches into ws.target (B*M, D), in mask order, no
    /// gradient: its input is CLS + the masked tokens (M2D) or CLS + all tokens (conventional).
    private func targetFeatures(_ B: Int, _ masks: [PatchMask], _ ws: TrainingWorkspace) {
        guard let acts = ws.targetBlock, let targetNorm = fixed.targetNorm
        else { preconditionFailure("an M2D network has a target encoder") }
        let D = config.encoder.embedDim, L = config.patches, M = L - config.keep
        let all = config.targetInput == .all, everyPatch = (0..<L).map { $0 }[...]
        let nt = 1 + (all ? L : M), xt = ws.targetTokens.pointer
        for b in 0..<B {
            gatherWithCLS(
                into: xt + b * nt * D, tokens: ws.x0.pointer + b * L * D, picks: all ? everyPatch : masks[b].masked,
                dim: D)
        }
        for block in fixed.targetBlocks { BlockTraining.forward(xt, block, acts, engine: engine) }
        LayerNorm.forward(
            out: xt, input: xt, weight: targetNorm.weight, bias: targetNorm.bias, rows: B * nt, cols: D)
        for b in 0..<B {
            if all {
                for (j, p) in masks[b].masked.enumerated() {
                    (ws.target.pointer + (b * M + j) * D).update(from: xt + (b * nt + 1 + p) * D, count: D)
                }
            } else {
                (ws.target.pointer + b * M * D).update(from: xt + (b * nt + 1) * D, count: M * D)
            }
        }
    }

    /// Backward through the predictor, into dEmb (B*(1+K), Dd) and the mask token's gradient.
    private func backwardPredictor(_ B: Int, _ masks: [PatchMask], _ ws: TrainingWorkspace) {
        let Dd = config.decoderDim, L = config.patches, K = config.keep, M = L - K
        let nd = 1 + L, nv = 1 + K, P = config.predictionDim
        for b in 0..<B {
            for (j, p) in masks[b].masked.enumerated() {
                (ws.dPred.pointer + (b * nd + 1 + p) * P).update(
                    from: ws.dPredicted.pointer + (b * M + j) * P, count: P)
            }
        }
        Linear.backward(
            dInput: ws.dZn.pointer, dWeight: gradients.decoderPred.weight, dBias: gradients.decoderPred.bias,
            dOut: ws.dPred.pointer, input: ws.zn.pointer, weight: weights.decoderPred.weight, M: B * nd, C: Dd, OC: P,
            engine: engine)
        LayerNorm.backward(
            dInput: ws.dZ.pointer, dWeight: gradients.decoderNorm.weight, dBias: gradients.decoderNorm.bias,
            dOut: ws.dZn.pointer, input: ws.z.pointer, weight: weights.decoderNorm.weight, mean: ws.znMean.pointer,
            rstd: ws.znRstd.pointer, rows: B * nd, cols: Dd)
        for i in (0..<config.decoderDepth).reversed() {
            BlockTraining.backward(
                ws.dZ.pointer, weights.decoderBlocks[i], gradients.decoderBlocks[i], ws.decoder[i],
                scratch: ws.decoderScratch, engine: engine)
        }
        let dz = ws.dZ.pointer, demb = ws.dEmb.pointer, dMaskToken = gradients.maskToken
        for b in 0..<B {
            for d in 0..<Dd { demb[b * nv * Dd + d] += dz[b * nd * Dd + d] }
            for p in 0..<L {
                let j = masks[b].restore[p], src = dz + (b * nd + 1 + p) * Dd
                let dst = j < K ? demb + (b * nv + 1 + j) * Dd : dMaskToken
                for d in 0..<Dd { dst[d] += src[d] }
            }
        }
    }

    /// Backward through the online encoder and the patch embedding, into the parameter gradients.
    enum EncoderStage { case head, block(Int), stem }

    private func backwardEncoder(
        _ B: Int, _ masks: [PatchMask], _ ws: TrainingWorkspace, finished: (EncoderStage) -> Void
    ) {
        let e = config.encoder, D = e.embedDim, Dd = config.decoderDim, L = config.patches, nv = 1 + config.keep
        let patchK = e.patchHeight * e.patchWidth
        Linear.backward(
            dInput: ws.dLatent.pointer, dWeight: gradients.decoderEmbed.weight, dBias: gradients.decoderEmbed.bias,
            dOut: ws.dEmb.pointer, input: ws.latent.pointer, weight: weights.decoderEmbed.weight, M: B * nv, C: D,
            OC: Dd, engine: engine)
        LayerNorm.backward(
            dInput: ws.dXv.pointer, dWeight: gradients.norm.weight, dBias: gradients.norm.bias,
            dOut: ws.dLatent.pointer,
            input: ws.xv.pointer, weight: weights.norm.weight, mean: ws.latentMean.pointer, rstd: ws.latentRstd.pointer,
            rows: B * nv, cols: D)
        finished(.head)
        for i in (0..<e.depth).reversed() {
            BlockTraining.backward(
                ws.dXv.pointer, weights.blocks[i], gradients.blocks[i], ws.encoder[i], scratch: ws.encoderScratch,
                engine: engine)
            finished(.block(i))
        }
        let dxv = ws.dXv.pointer, dx0 = ws.dX0.pointer, dcls = gradients.clsToken
        for b in 0..<B {
            for d in 0..<D { dcls[d] += dxv[b * nv * D + d] }
            for (k, p) in masks[b].visible.enumerated() {
                let src = dxv + (b * nv + 1 + k) * D, dst = dx0 + (b * L + p) * D
                for d in 0..<D { dst[d] += src[d] }
            }
        }
        Linear.backward(
            dInput: nil, dWeight: gradients.patch.weight, dBias: gradients.patch.bias, dOut: dx0,
            input: ws.cols.pointer, weight: weights.patch.weight, M: B * L, C: patchK, OC: D, engine: engine)
        finished(.stem)
    }

    /// out (1 + picks, D): the CLS row (cls_token + pos_embed[0]) then tokens[picks] in pick order
    /// (the online encoder's visible and the target's masked sequences).
    private func gatherWithCLS(
        into out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Float>, picks: ArraySlice<Int>, dim D: Int
    ) {
        let cls = weights.clsToken, pos = fixed.posEmbed
        for d in 0..<D { out[d] = cls[d] + pos[d] }
        for (k, p) in picks.enumerated() { (out + (1 + k) * D).update(from: tokens + p * D, count: D) }
    }
}

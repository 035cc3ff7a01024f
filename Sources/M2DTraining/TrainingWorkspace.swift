// TrainingWorkspace: every buffer one M2D training step needs for batches of B crops, allocated
// once and reused step after step (the step used to allocate about 30 buffers each time). The
// buffers the backward pass accumulates into are zeroed at the start of each step.
import M2DModel
import M2DTensor

final class TrainingWorkspace {
    let batch: Int
    // Forward: patches and tokens (B*L), the online encoder (B*(1+K)), the predictor (B*(1+L)).
    let cols, x0, xv, latent, latentMean, latentRstd, emb, z, zn, znMean, znRstd, pred: FloatBuffer
    // The masked positions (B*M): predictions, targets, their normalized form and the loss gradient.
    let predicted, target, normalizedTarget, dPredicted: FloatBuffer
    // Backward, predictor to patch embedding.
    let dPred, dZn, dZ, dEmb, dLatent, dXv, dX0: FloatBuffer
    let encoder, decoder: [BlockActivations]
    let encoderScratch, decoderScratch: BlockGradientScratch
    /// The target encoder's sequence (B * (1 + M or L), D) and its block activations (no backward:
    /// one set serves every block).
    let targetTokens: FloatBuffer
    let targetBlock: BlockActivations?

    init(_ c: M2DNetworkConfig, batch B: Int) {
        batch = B
        let e = c.encoder, D = e.embedDim, Dd = c.decoderDim, L = c.patches, K = c.keep, M = L - K
        let patchK = e.patchHeight * e.patchWidth, P = c.predictionDim
        let nv = 1 + K, nd = 1 + L
        cols = FloatBuffer(count: B * L * patchK); x0 = FloatBuffer(count: B * L * D)
        xv = FloatBuffer(count: B * nv * D); latent = FloatBuffer(count: B * nv * D)
        latentMean = FloatBuffer(count: B * nv); latentRstd = FloatBuffer(count: B * nv)
        emb = FloatBuffer(count: B * nv * Dd); z = FloatBuffer(count: B * nd * Dd); zn = FloatBuffer(count: B * nd * Dd)
        znMean = FloatBuffer(count: B * nd); znRstd = FloatBuffer(count: B * nd); pred = FloatBuffer(count: B * nd * P)
        predicted = FloatBuffer(count: B * M * P); target = FloatBuffer(count: B * M * P)
        normalizedTarget = FloatBuffer(count: B * M * P); dPredicted = FloatBuffer(count: B * M * P)
        dPred = FloatBuffer(count: B * nd * P); dZn = FloatBuffer(count: B * nd * Dd);
        dZ = FloatBuffer(count: B * nd * Dd)
        dEmb = FloatBuffer(count: B * nv * Dd); dLatent = FloatBuffer(count: B * nv * D);
        dXv = FloatBuffer(count: B * nv * D)
        dX0 = FloatBuffer(count: B * L * D)
        encoder = (0..<e.depth).map { _ in BlockActivations(B: B, N: nv, D: D, hidden: e.mlpHidden, heads: e.numHeads) }
        decoder = (0..<c.decoderDepth).map { _ in
            BlockActivations(B: B, N: nd, D: Dd, hidden: 4 * Dd, heads: c.decoderHeads)
        }
        encoderScratch = BlockGradientScratch(B: B, N: nv, D: D, hidden: e.mlpHidden, heads: e.numHeads)
        decoderScratch = BlockGradientScratch(B: B, N: nd, D: Dd, hidden: 4 * Dd, heads: c.decoderHeads)
        let nt = 1 + (c.targetInput == .all ? L : M)
        targetTokens = FloatBuffer(count: c.method == .m2d ? B * nt * D : 1)
        targetBlock =
            c.method == .m2d ? BlockActivations(B: B, N: nt, D: D, hidden: e.mlpHidden, heads: e.numHeads) : nil
    }

    /// Zeroes what the backward pass adds into (the ops accumulate, llm.c style).
    func zeroAccumulators() {
        for buffer in [dPredicted, dPred, dZn, dZ, dEmb, dLatent, dXv, dX0] { buffer.zero() }
    }
}

// ViTEncoder: the M2D/timm ViT forward (docs/NUMERICS.md §2.5; examples/portable_m2d.py LocalViT.forward_encoder,
// timm vision_transformer Block): patch embed -> + pos_embed (time columns sliced) -> prepend CLS ->
// pre-norm blocks -> final LayerNorm, on a GEMMEngine (oneDNN or OpenBLAS). The EncoderEngine of
// fp32/bf16 inference. Not thread-safe: one encoder (and its workspace) per worker thread.
import M2DOps
import M2DTensor

public final class ViTEncoder: EncoderEngine, EncoderWeightsProvider, @unchecked Sendable {
    // SAFETY: used by one thread at a time (the inference worker that owns it).
    public let weights: EncoderWeights
    public let engine: GEMMEngine
    public var config: ModelConfig { weights.config }
    private var workspace: Workspace?
    var fusedWorkspace: FusedWorkspace?
    private var compact: FloatBuffer?

    public init(weights: EncoderWeights, engine: GEMMEngine = GEMMEngine()) {
        self.weights = weights
        self.engine = engine
        weights.register(engine: engine)
    }

    public var summary: String { engine.summary }
    public var precision: GEMMEngine.Precision { engine.precision }
    public var engineWeightBytes: Int { engine.reorderedWeightBytes }
    public var computeThreads: Int { engine.computeThreads }

    public func encode(_ chunks: [EncoderChunk]) throws(EncoderError) -> EncoderOutput {
        let out = forward(chunks)
        if let failure = engine.takeFailure() { throw .backend(failure) }
        return out
    }

    /// Tokens per chunk for `timePatches` time patches (CLS included).
    public func tokenCount(timePatches: Int) -> Int { 1 + config.freqPatches * timePatches }

    /// Where each chunk's tokens and patches start in a batch whose chunks each begin at a multiple of
    /// `multiple` rows, their token counts, and the rows in all.
    func layout(_ chunks: [EncoderChunk], multiple: Int = 1)
        -> (starts: [Int], lengths: [Int], rows: Int, patchStarts: [Int], patchRows: Int)
    {
        func roundUp(_ n: Int) -> Int { (n + multiple - 1) / multiple * multiple }
        var starts: [Int] = [], lengths: [Int] = [], patchStarts: [Int] = []
        var rows = 0, patchRows = 0
        for chunk in chunks {
            precondition(
                chunk.timePatches >= 1 && chunk.timePatches <= config.gridTimePatches,
                "time patches \(chunk.timePatches) outside 1...\(config.gridTimePatches)")
            starts.append(rows)
            lengths.append(tokenCount(timePatches: chunk.timePatches))
            rows += roundUp(lengths.last!)
            patchStarts.append(patchRows)
            patchRows += roundUp(config.freqPatches * chunk.timePatches)
        }
        return (starts, lengths, rows, patchStarts, patchRows)
    }

    /// Encodes chunks of any lengths in one pass: token-wise layers run over all chunks' rows at
    /// once (bigger GEMMs), attention stays within each chunk, so results equal encoding each alone.
    public func forward(_ chunks: [EncoderChunk]) -> EncoderOutput {
        if let fused = engine.fused { return forwardFused(chunks, fused: fused) }
        let c = config
        let F = c.freqPatches, D = c.embedDim, H = c.mlpHidden, K = c.patchHeight * c.patchWidth
        let (starts, lengths, rows, _, _) = layout(chunks)
        let maxTp = chunks.map(\.timePatches).max() ?? 1
        let ws = prepareWorkspace(rows: rows, tokens: lengths.max() ?? 1, patchRows: F * maxTp, patchK: K)
        let x = ws.x.pointer
        let pos = weights.posEmbed.base, cls = weights.clsToken.base
        for (i, chunk) in chunks.enumerated() {
            let Tp = chunk.timePatches
            PatchEmbed.im2col(
                cols: ws.cols.pointer, input: chunk.base, ldInput: chunk.rowStride,
                freqPatches: F, timePatches: Tp, patchHeight: c.patchHeight, patchWidth: c.patchWidth)
            let tokens = x + (starts[i] + 1) * D
            Linear.forward(
                out: tokens, input: ws.cols.pointer, weight: weights.patchWeight.base,
                bias: weights.patchBias.base, M: F * Tp, C: K, OC: D)
            for f in 0..<F {
                for t in 0..<Tp {
                    let row = tokens + (f * Tp + t) * D, p = pos + (1 + f * c.gridTimePatches + t) * D
                    for d in 0..<D { row[d] += p[d] }
                }
            }
            let clsRow = x + starts[i] * D
            for d in 0..<D { clsRow[d] = cls[d] + pos[d] }
        }
        // Inference keeps nothing: both norms share one buffer and the MLP overlays qkv/attn.
        let store = BlockStore(
            ln1: ws.ln.pointer, qkv: ws.qkv, probs: ws.probs.pointer, probsStride: 0, attn: ws.attn, ln2: ws.ln.pointer,
            fc1: ws.hidden, gelu: ws.hidden)
        for block in weights.blocks {
            TransformerBlock.forward(
                x, block, store, rows: rows, starts: starts, lengths: lengths, D: D, hidden: H, heads: c.numHeads,
                engine: engine)
        }
        LayerNorm.forward(
            out: ws.ln.pointer, input: x, weight: weights.normWeight.base, bias: weights.normBias.base,
            rows: rows, cols: D)
        return EncoderOutput(tokens: ws.ln.view(shape: [rows, D]), rowStarts: starts)
    }

    /// Activation buffers, grown (never per layer) when a larger batch arrives. The MLP's hidden
    /// activations share memory with qkv and the attention output, which are dead by then (fc1
    /// runs after proj has consumed them): 6 rather than 10 floats per row and width unit.
    final class Workspace {
        let rows: Int, tokens: Int, patchRows: Int
        let x, ln, probs, cols: FloatBuffer
        private let attentionOrMLP: FloatBuffer
        /// qkv (rows, 3D), then the attention output (rows, D); the hidden (rows, H) overlays both.
        let qkv, attn, hidden: UnsafeMutablePointer<Float>
        init(rows: Int, tokens: Int, patchRows: Int, patchK: Int, D: Int, H: Int, heads: Int) {
            self.rows = rows; self.tokens = tokens; self.patchRows = patchRows
            x = FloatBuffer(count: rows * D); ln = FloatBuffer(count: rows * D)
            attentionOrMLP = FloatBuffer(count: rows * max(4 * D, H))
            qkv = attentionOrMLP.pointer; attn = attentionOrMLP.pointer + rows * 3 * D; hidden = attentionOrMLP.pointer
            probs = FloatBuffer(count: heads * tokens * tokens)
            cols = FloatBuffer(count: patchRows * patchK)
        }
    }

    private func prepareWorkspace(rows: Int, tokens: Int, patchRows: Int, patchK: Int) -> Workspace {
        if let ws = workspace, ws.rows >= rows, ws.tokens >= tokens, ws.patchRows >= patchRows { return ws }
        let old = workspace
        let ws = Workspace(
            rows: max(rows, old?.rows ?? 0), tokens: max(tokens, old?.tokens ?? 0),
            patchRows: max(patchRows, old?.patchRows ?? 0), patchK: patchK,
            D: config.embedDim, H: config.mlpHidden, heads: config.numHeads)
        workspace = ws
        return ws
    }

    /// Pre-allocates the workspace for `chunks` full-length chunks so serving never grows it.
    public func reserve(chunks batch: Int) {
        let Tp = config.gridTimePatches, N = tokenCount(timePatches: Tp)
        if engine.fused != nil {
            let tile = Self.fusedTile, F = config.freqPatches
            let rows: Int = batch * ((N + tile - 1) / tile * tile)
            let patchRows: Int = batch * ((F * Tp + tile - 1) / tile * tile)
            _ = prepareFusedWorkspace(rows: rows, patchRows: patchRows, patchK: config.patchHeight * config.patchWidth)
            return
        }
        _ = prepareWorkspace(
            rows: batch * N, tokens: N, patchRows: config.freqPatches * Tp,
            patchK: config.patchHeight * config.patchWidth)
    }

    /// Uniform-batch convenience: every chunk spans `timePatches` patches; output (B, N, D) (the fused
    /// encoder's padding between chunks taken out, into a buffer of its own that lives until the next call).
    public func forward(_ chunks: [EncoderChunk], timePatches Tp: Int) -> Tensor {
        let out = forward(chunks.map { EncoderChunk(base: $0.base, rowStride: $0.rowStride, timePatches: Tp) })
        let N = tokenCount(timePatches: Tp), D = config.embedDim
        if out.tokens.shape[0] == chunks.count * N,
            out.rowStarts.enumerated().allSatisfy({ $0.element == $0.offset * N })
        {
            return out.tokens.reshaped([chunks.count, N, D])
        }
        if compact == nil || compact!.count < chunks.count * N * D {
            compact = FloatBuffer(count: chunks.count * N * D)
        }
        let dense = compact!
        for (b, start) in out.rowStarts.enumerated() {
            (dense.pointer + b * N * D).update(from: out.tokens.base + start * D, count: N * D)
        }
        return dense.view(shape: [chunks.count, N, D])
    }
}

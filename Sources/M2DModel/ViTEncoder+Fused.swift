// ViTEncoder on the fused encoder (GEMMEngine.fused, m2d_dnnl.h): the same forward as `forward`, with
// every step after the patches' layout run by one thread team. Each chunk's rows start at a multiple
// of the tile (the rows between are padding), so a chunk's tokens are the same whatever it is batched
// with: bit for bit, at every precision the fused encoder runs.
import CDNNL
import M2DOps
import M2DTensor

extension ViTEncoder {
    /// Rows per product tile of the fused encoder; chunk starts are multiples of it.
    static let fusedTile = Int(M2D_FUSED_TILE)

    func forwardFused(_ chunks: [EncoderChunk], fused: OpaquePointer) -> EncoderOutput {
        let c = config
        let F = c.freqPatches, D = c.embedDim, H = c.mlpHidden, K = c.patchHeight * c.patchWidth
        let (starts, lengths, rows, patchStarts, patchRows) = layout(chunks, multiple: Self.fusedTile)
        let ws = prepareFusedWorkspace(rows: rows, patchRows: patchRows, patchK: K)
        let x = ws.x.pointer, cols = ws.cols.pointer, patches = ws.ln.pointer
        // Padding rows are zeroed each call: whatever an earlier batch left there must not grow unbounded.
        for i in chunks.indices {
            let end = i + 1 < chunks.count ? starts[i + 1] : rows,
                patchEnd = i + 1 < chunks.count ? patchStarts[i + 1] : patchRows
            (x + (starts[i] + lengths[i]) * D).update(repeating: 0, count: (end - starts[i] - lengths[i]) * D)
            let used = F * chunks[i].timePatches
            (cols + (patchStarts[i] + used) * K).update(repeating: 0, count: (patchEnd - patchStarts[i] - used) * K)
        }
        for (i, chunk) in chunks.enumerated() {
            PatchEmbed.im2col(
                cols: cols + patchStarts[i] * K, input: chunk.base, ldInput: chunk.rowStride,
                freqPatches: F, timePatches: chunk.timePatches, patchHeight: c.patchHeight, patchWidth: c.patchWidth)
        }
        let patchWeight = weights.patchWeight.base, pos = weights.posEmbed.base, cls = weights.clsToken.base
        record(
            m2d_fused_linear(
                fused, patchWeight, Int64(D), Int64(K), cols, Int64(patchRows), weights.patchBias.base, patches))
        for (i, chunk) in chunks.enumerated() {
            let Tp = chunk.timePatches, tokens = x + (starts[i] + 1) * D, embedded = patches + patchStarts[i] * D
            for f in 0..<F {
                for t in 0..<Tp {
                    let row = tokens + (f * Tp + t) * D, from = embedded + (f * Tp + t) * D
                    let p = pos + (1 + f * c.gridTimePatches + t) * D
                    for d in 0..<D { row[d] = from[d] + p[d] }
                }
            }
            let clsRow = x + starts[i] * D
            for d in 0..<D { clsRow[d] = cls[d] + pos[d] }
        }
        let s64 = starts.map(Int64.init), l64 = lengths.map(Int64.init)
        for block in weights.blocks {
            var p = m2d_block_params(
                norm1_w: block.norm1W, norm1_b: block.norm1B, qkv_w: block.qkvW, qkv_b: block.qkvB,
                proj_w: block.projW, proj_b: block.projB, norm2_w: block.norm2W, norm2_b: block.norm2B,
                fc1_w: block.fc1W, fc1_b: block.fc1B, fc2_w: block.fc2W, fc2_b: block.fc2B)
            record(
                m2d_fused_block(
                    fused, &p, x, Int64(rows), s64, l64, Int64(chunks.count), Int64(D), Int64(H), Int64(c.numHeads)))
        }
        m2d_fused_layernorm(
            fused, x, Int64(rows), Int64(D), weights.normWeight.base, weights.normBias.base, ws.ln.pointer)
        return EncoderOutput(tokens: ws.ln.view(shape: [rows, D]), rowStarts: starts)
    }

    private func record(_ rc: Int32) {
        if rc != 0 { engine.recordFailure("the fused encoder failed (code \(rc))") }
    }

    func prepareFusedWorkspace(rows: Int, patchRows: Int, patchK: Int) -> FusedWorkspace {
        if let ws = fusedWorkspace, ws.rows >= rows, ws.patchRows >= patchRows { return ws }
        let ws = FusedWorkspace(
            rows: max(rows, fusedWorkspace?.rows ?? 0), patchRows: max(patchRows, fusedWorkspace?.patchRows ?? 0),
            patchK: patchK, D: config.embedDim)
        fusedWorkspace = ws
        return ws
    }

    /// x and the final LayerNorm's output for `rows` rows (padding zeroed once: it stays finite), and the
    /// patches' columns; the patch embedding's output goes through the LayerNorm buffer first.
    final class FusedWorkspace {
        let rows: Int, patchRows: Int
        let x, ln, cols: FloatBuffer
        init(rows: Int, patchRows: Int, patchK: Int, D: Int) {
            self.rows = rows; self.patchRows = patchRows
            x = FloatBuffer(count: rows * D)
            ln = FloatBuffer(count: max(rows, patchRows) * D)
            cols = FloatBuffer(count: patchRows * patchK)
        }
    }
}

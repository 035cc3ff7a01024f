// BlockTraining: one pre-norm transformer block (timm Block, docs/NUMERICS.md §2.2) with the
// activations a backward pass needs, and that backward pass: the building block of the M2D
// trainer's online encoder, predictor and target encoder. The forward is the inference encoder's
// (TransformerBlock); only where the intermediates go differs.
import M2DModel
import M2DOps
import M2DTensor

/// The saved activations of one block forward over B sequences of N tokens (width D, MLP H).
public final class BlockActivations {
    public let B: Int, N: Int, D: Int, H: Int, heads: Int
    let input, ln1, ln1Mean, ln1Rstd, qkv, probs, attn, mid, ln2, ln2Mean, ln2Rstd, fc1, gelu: FloatBuffer

    public init(B: Int, N: Int, D: Int, hidden H: Int, heads: Int) {
        self.B = B; self.N = N; self.D = D; self.H = H; self.heads = heads
        let R = B * N
        input = FloatBuffer(count: R * D); ln1 = FloatBuffer(count: R * D)
        ln1Mean = FloatBuffer(count: R); ln1Rstd = FloatBuffer(count: R)
        qkv = FloatBuffer(count: R * 3 * D); probs = FloatBuffer(count: B * heads * N * N)
        attn = FloatBuffer(count: R * D)
        mid = FloatBuffer(count: R * D); ln2 = FloatBuffer(count: R * D)
        ln2Mean = FloatBuffer(count: R); ln2Rstd = FloatBuffer(count: R)
        fc1 = FloatBuffer(count: R * H); gelu = FloatBuffer(count: R * H)
    }

    /// Where the forward writes: everything kept, one N x N probability block per (sequence, head).
    var store: BlockStore {
        BlockStore(
            input: input.pointer, ln1: ln1.pointer, ln1Mean: ln1Mean.pointer, ln1Rstd: ln1Rstd.pointer,
            qkv: qkv.pointer, probs: probs.pointer, probsStride: N * N, attn: attn.pointer, mid: mid.pointer,
            ln2: ln2.pointer, ln2Mean: ln2Mean.pointer, ln2Rstd: ln2Rstd.pointer, fc1: fc1.pointer, gelu: gelu.pointer)
    }
}

/// The backward pass's own buffers for blocks of up to R rows: reused block after block, zeroed
/// before each use (the backward ops accumulate).
public final class BlockGradientScratch {
    let rows: Int, D: Int, H: Int, heads: Int, N: Int
    let dGelu, dFc1, dLn2, dAttn, dQKV, dLn1, scores: FloatBuffer

    public init(B: Int, N: Int, D: Int, hidden H: Int, heads: Int) {
        rows = B * N; self.D = D; self.H = H; self.heads = heads; self.N = N
        dGelu = FloatBuffer(count: rows * H); dFc1 = FloatBuffer(count: rows * H); dLn2 = FloatBuffer(count: rows * D)
        dAttn = FloatBuffer(count: rows * D); dQKV = FloatBuffer(count: rows * 3 * D);
        dLn1 = FloatBuffer(count: rows * D)
        scores = FloatBuffer(count: heads * N * N)
    }

    func fits(_ a: BlockActivations) -> Bool {
        a.B * a.N <= rows && a.D == D && a.H == H && a.heads == heads && a.N <= N
    }
}

public enum BlockTraining {
    /// x (B*N, D) <- block(x), saving what backward needs in `a`.
    public static func forward(
        _ x: UnsafeMutablePointer<Float>, _ w: BlockParameters, _ a: BlockActivations, engine: GEMMEngine? = nil
    ) {
        TransformerBlock.forward(
            x, w, a.store, rows: a.B * a.N, starts: (0..<a.B).map { $0 * a.N },
            lengths: [Int](repeating: a.N, count: a.B), D: a.D, hidden: a.H, heads: a.heads, engine: engine)
    }

    /// Given dX = dL/d(block output) (B*N, D), accumulates parameter gradients into `g` and
    /// replaces dX with dL/d(block input).
    public static func backward(
        _ dX: UnsafeMutablePointer<Float>, _ w: BlockParameters, _ g: BlockParameters, _ a: BlockActivations,
        scratch s: BlockGradientScratch, engine: GEMMEngine? = nil
    ) {
        precondition(s.fits(a), "backward scratch for \(s.rows) rows of \(s.D) cannot hold \(a.B * a.N) rows of \(a.D)")
        let R = a.B * a.N, D = a.D, H = a.H
        for buffer in [s.dGelu, s.dFc1, s.dLn2, s.dAttn, s.dQKV, s.dLn1] { buffer.zero() }
        // MLP branch: x_out = mid + fc2(gelu(fc1(ln2(mid)))).
        Linear.backward(
            dInput: s.dGelu.pointer, dWeight: g.fc2W, dBias: g.fc2B, dOut: dX, input: a.gelu.pointer, weight: w.fc2W,
            M: R, C: H, OC: D, engine: engine)
        GELU.backward(dInput: s.dFc1.pointer, dOut: s.dGelu.pointer, input: a.fc1.pointer, count: R * H)
        Linear.backward(
            dInput: s.dLn2.pointer, dWeight: g.fc1W, dBias: g.fc1B, dOut: s.dFc1.pointer, input: a.ln2.pointer,
            weight: w.fc1W, M: R, C: D, OC: H, engine: engine)
        LayerNorm.backward(
            dInput: dX, dWeight: g.norm2W, dBias: g.norm2B, dOut: s.dLn2.pointer, input: a.mid.pointer,
            weight: w.norm2W, mean: a.ln2Mean.pointer, rstd: a.ln2Rstd.pointer, rows: R, cols: D)
        // Attention branch: mid = input + proj(attn(qkv(ln1(input)))).
        Linear.backward(
            dInput: s.dAttn.pointer, dWeight: g.projW, dBias: g.projB, dOut: dX, input: a.attn.pointer,
            weight: w.projW, M: R, C: D, OC: D, engine: engine)
        Attention.backward(
            dQKV: s.dQKV.pointer, dOut: s.dAttn.pointer, qkv: a.qkv.pointer, probs: a.probs.pointer,
            probsStride: a.N * a.N, scratch: s.scores.pointer, B: a.B, N: a.N, heads: a.heads, headDim: D / a.heads,
            engine: engine)
        Linear.backward(
            dInput: s.dLn1.pointer, dWeight: g.qkvW, dBias: g.qkvB, dOut: s.dQKV.pointer, input: a.ln1.pointer,
            weight: w.qkvW, M: R, C: D, OC: 3 * D, engine: engine)
        LayerNorm.backward(
            dInput: dX, dWeight: g.norm1W, dBias: g.norm1B, dOut: s.dLn1.pointer, input: a.input.pointer,
            weight: w.norm1W, mean: a.ln1Mean.pointer, rstd: a.ln1Rstd.pointer, rows: R, cols: D)
    }
}

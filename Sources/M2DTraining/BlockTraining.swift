// BlockTraining: one pre-norm transformer block (timm Block, docs/NUMERICS.md §2.2) with the activations a
// backward pass needs, and that backward pass: the building block of the M2D trainer's online
// encoder, predictor and target encoder. Forward equals ViTEncoder's block forward.
import M2DOps
import M2DTensor

/// Views of one block's parameters (or of their gradients): the timm key order.
public struct BlockParameters {
    public let norm1W, norm1B, qkvW, qkvB, projW, projB, norm2W, norm2B, fc1W, fc1B, fc2W,
        fc2B: UnsafeMutablePointer<Float>

    /// Carves the 12 tensors of a block of width D and MLP width H out of `base`, in timm order.
    public init(base: UnsafeMutablePointer<Float>, D: Int, hidden H: Int) {
        var p = base
        func take(_ n: Int) -> UnsafeMutablePointer<Float> { defer { p += n }; return p }
        norm1W = take(D); norm1B = take(D); qkvW = take(3 * D * D); qkvB = take(3 * D)
        projW = take(D * D); projB = take(D); norm2W = take(D); norm2B = take(D)
        fc1W = take(H * D); fc1B = take(H); fc2W = take(D * H); fc2B = take(D)
    }

    public static func count(D: Int, hidden H: Int) -> Int {
        2 * D + 3 * D * D + 3 * D + D * D + D + 2 * D + H * D + H + D * H + D
    }
}

/// The saved activations of one block forward over B sequences of N tokens (width D, MLP H).
public final class BlockActivations {
    public let B: Int, N: Int, D: Int, H: Int, heads: Int
    let input, ln1, ln1Mean, ln1Rstd, qkv, probs, attn, mid, ln2, ln2Mean, ln2Rstd, fc1, gelu: FloatBuffer

    public init(B: Int, N: Int, D: Int, hidden H: Int, heads: Int) {
        self.B = B; self.N = N; self.D = D; self.H = H; self.heads = heads
        let R = B * N
        input = FloatBuffer(count: R * D); ln1 = FloatBuffer(count: R * D); ln1Mean = FloatBuffer(count: R);
        ln1Rstd = FloatBuffer(count: R)
        qkv = FloatBuffer(count: R * 3 * D); probs = FloatBuffer(count: B * heads * N * N);
        attn = FloatBuffer(count: R * D)
        mid = FloatBuffer(count: R * D); ln2 = FloatBuffer(count: R * D); ln2Mean = FloatBuffer(count: R);
        ln2Rstd = FloatBuffer(count: R)
        fc1 = FloatBuffer(count: R * H); gelu = FloatBuffer(count: R * H)
    }
}

public enum BlockTraining {
    /// x (B*N, D) <- block(x), saving what backward needs in `a`.
    public static func forward(
        _ x: UnsafeMutablePointer<Float>, _ w: BlockParameters, _ a: BlockActivations, engine: GEMMEngine? = nil
    ) {
        let R = a.B * a.N, D = a.D, H = a.H
        a.input.pointer.update(from: x, count: R * D)
        LayerNorm.forward(
            out: a.ln1.pointer, mean: a.ln1Mean.pointer, rstd: a.ln1Rstd.pointer, input: x, weight: w.norm1W,
            bias: w.norm1B, rows: R, cols: D)
        Linear.forward(
            out: a.qkv.pointer, input: a.ln1.pointer, weight: w.qkvW, bias: w.qkvB, M: R, C: D, OC: 3 * D,
            engine: engine)
        Attention.forward(
            out: a.attn.pointer, probs: a.probs.pointer, probsStride: a.N * a.N, qkv: a.qkv.pointer,
            B: a.B, N: a.N, heads: a.heads, headDim: D / a.heads, engine: engine)
        Linear.forward(
            out: x, input: a.attn.pointer, weight: w.projW, bias: w.projB, M: R, C: D, OC: D, accumulate: true,
            engine: engine)
        a.mid.pointer.update(from: x, count: R * D)
        LayerNorm.forward(
            out: a.ln2.pointer, mean: a.ln2Mean.pointer, rstd: a.ln2Rstd.pointer, input: x, weight: w.norm2W,
            bias: w.norm2B, rows: R, cols: D)
        Linear.forward(
            out: a.fc1.pointer, input: a.ln2.pointer, weight: w.fc1W, bias: w.fc1B, M: R, C: D, OC: H, engine: engine)
        GELU.forward(out: a.gelu.pointer, input: a.fc1.pointer, count: R * H)
        Linear.forward(
            out: x, input: a.gelu.pointer, weight: w.fc2W, bias: w.fc2B, M: R, C: H, OC: D, accumulate: true,
            engine: engine)
    }

    /// Given dX = dL/d(block output) (B*N, D), accumulates parameter gradients into `g` and
    /// replaces dX with dL/d(block input).
    public static func backward(
        _ dX: UnsafeMutablePointer<Float>, _ w: BlockParameters, _ g: BlockParameters, _ a: BlockActivations,
        engine: GEMMEngine? = nil
    ) {
        let R = a.B * a.N, D = a.D, H = a.H
        // MLP branch: x_out = mid + fc2(gelu(fc1(ln2(mid)))).
        let dGelu = FloatBuffer(count: R * H), dFc1 = FloatBuffer(count: R * H), dLn2 = FloatBuffer(count: R * D)
        Linear.backward(
            dInput: dGelu.pointer, dWeight: g.fc2W, dBias: g.fc2B, dOut: dX, input: a.gelu.pointer, weight: w.fc2W,
            M: R, C: H, OC: D, engine: engine)
        GELU.backward(dInput: dFc1.pointer, dOut: dGelu.pointer, input: a.fc1.pointer, count: R * H)
        Linear.backward(
            dInput: dLn2.pointer, dWeight: g.fc1W, dBias: g.fc1B, dOut: dFc1.pointer, input: a.ln2.pointer,
            weight: w.fc1W, M: R, C: D, OC: H, engine: engine)
        LayerNorm.backward(
            dInput: dX, dWeight: g.norm2W, dBias: g.norm2B, dOut: dLn2.pointer, input: a.mid.pointer, weight: w.norm2W,
            mean: a.ln2Mean.pointer, rstd: a.ln2Rstd.pointer, rows: R, cols: D)
        // Attention branch: mid = input + proj(attn(qkv(ln1(input)))).
        let dAttn = FloatBuffer(count: R * D), dQKV = FloatBuffer(count: R * 3 * D), dLn1 = FloatBuffer(count: R * D)
        let scratch = FloatBuffer(count: a.heads * a.N * a.N)
        Linear.backward(
            dInput: dAttn.pointer, dWeight: g.projW, dBias: g.projB, dOut: dX, input: a.attn.pointer, weight: w.projW,
            M: R, C: D, OC: D, engine: engine)
        Attention.backward(
            dQKV: dQKV.pointer, dOut: dAttn.pointer, qkv: a.qkv.pointer, probs: a.probs.pointer, probsStride: a.N * a.N,
            scratch: scratch.pointer, B: a.B, N: a.N, heads: a.heads, headDim: D / a.heads, engine: engine)
        Linear.backward(
            dInput: dLn1.pointer, dWeight: g.qkvW, dBias: g.qkvB, dOut: dQKV.pointer, input: a.ln1.pointer,
            weight: w.qkvW, M: R, C: D, OC: 3 * D, engine: engine)
        LayerNorm.backward(
            dInput: dX, dWeight: g.norm1W, dBias: g.norm1B, dOut: dLn1.pointer, input: a.input.pointer,
            weight: w.norm1W,
            mean: a.ln1Mean.pointer, rstd: a.ln1Rstd.pointer, rows: R, cols: D)
        withExtendedLifetime((dGelu, dFc1, dLn2, dAttn, dQKV, dLn1, scratch)) {}
    }
}

// TransformerBlock: the one forward of a pre-norm ViT block (timm Block, docs/NUMERICS.md §2.2):
// x += proj(attn(qkv(ln1(x)))); x += fc2(gelu(fc1(ln2(x)))). The inference encoder and the trainer
// both call it; they differ only in where the intermediates go (BlockStore): inference lets later
// steps overwrite them, training keeps every one for its backward pass.
import M2DOps
import M2DTensor

/// Views of one block's parameters (or of their gradients), in timm key order.
public struct BlockParameters: @unchecked Sendable {
    // SAFETY: views into a buffer whose owner outlives them; writers are serialised by that owner.
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

/// Where one block forward writes its intermediates, for R rows of width D and MLP width H. A nil
/// `input`, `mid` or statistics is not kept; `gelu` may equal `fc1` (in place); `probsStride` 0
/// makes `probs` one sequence's scratch.
public struct BlockStore: @unchecked Sendable {
    // SAFETY: views into workspace buffers owned by the caller for the length of the forward.
    public var input: UnsafeMutablePointer<Float>?  // (R, D) copy of the block input
    public var ln1: UnsafeMutablePointer<Float>  // (R, D)
    public var ln1Mean, ln1Rstd: UnsafeMutablePointer<Float>?  // (R)
    public var qkv: UnsafeMutablePointer<Float>  // (R, 3D)
    public var probs: UnsafeMutablePointer<Float>
    public var probsStride: Int
    public var attn: UnsafeMutablePointer<Float>  // (R, D)
    public var mid: UnsafeMutablePointer<Float>?  // (R, D) x after the attention branch
    public var ln2: UnsafeMutablePointer<Float>  // (R, D)
    public var ln2Mean, ln2Rstd: UnsafeMutablePointer<Float>?  // (R)
    public var fc1: UnsafeMutablePointer<Float>  // (R, H) before GELU
    public var gelu: UnsafeMutablePointer<Float>  // (R, H) after GELU

    public init(
        input: UnsafeMutablePointer<Float>? = nil, ln1: UnsafeMutablePointer<Float>,
        ln1Mean: UnsafeMutablePointer<Float>? = nil, ln1Rstd: UnsafeMutablePointer<Float>? = nil,
        qkv: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, probsStride: Int,
        attn: UnsafeMutablePointer<Float>, mid: UnsafeMutablePointer<Float>? = nil, ln2: UnsafeMutablePointer<Float>,
        ln2Mean: UnsafeMutablePointer<Float>? = nil, ln2Rstd: UnsafeMutablePointer<Float>? = nil,
        fc1: UnsafeMutablePointer<Float>, gelu: UnsafeMutablePointer<Float>
    ) {
        self.input = input
        self.ln1 = ln1
        self.ln1Mean = ln1Mean
        self.ln1Rstd = ln1Rstd
        self.qkv = qkv
        self.probs = probs
        self.probsStride = probsStride
        self.attn = attn
        self.mid = mid
        self.ln2 = ln2
        self.ln2Mean = ln2Mean
        self.ln2Rstd = ln2Rstd
        self.fc1 = fc1
        self.gelu = gelu
    }
}

public enum TransformerBlock {
    /// x (R, D) <- block(x) for the sequences [starts[s], starts[s] + lengths[s]) of x, each attending
    /// within itself; R = the total rows, H the MLP width.
    public static func forward(
        _ x: UnsafeMutablePointer<Float>, _ w: BlockParameters, _ s: BlockStore, rows R: Int, starts: [Int],
        lengths: [Int], D: Int, hidden H: Int, heads: Int, engine: GEMMEngine? = nil
    ) {
        s.input?.update(from: x, count: R * D)
        LayerNorm.forward(
            out: s.ln1, mean: s.ln1Mean, rstd: s.ln1Rstd, input: x, weight: w.norm1W, bias: w.norm1B, rows: R, cols: D)
        Linear.forward(out: s.qkv, input: s.ln1, weight: w.qkvW, bias: w.qkvB, M: R, C: D, OC: 3 * D, engine: engine)
        Attention.forward(
            out: s.attn, probs: s.probs, probsStride: s.probsStride, qkv: s.qkv, starts: starts, lengths: lengths,
            heads: heads, headDim: D / heads, engine: engine)
        Linear.forward(
            out: x, input: s.attn, weight: w.projW, bias: w.projB, M: R, C: D, OC: D, accumulate: true, engine: engine)
        s.mid?.update(from: x, count: R * D)
        LayerNorm.forward(
            out: s.ln2, mean: s.ln2Mean, rstd: s.ln2Rstd, input: x, weight: w.norm2W, bias: w.norm2B, rows: R, cols: D)
        Linear.forward(out: s.fc1, input: s.ln2, weight: w.fc1W, bias: w.fc1B, M: R, C: D, OC: H, engine: engine)
        GELU.forward(out: s.gelu, input: s.fc1, count: R * H)
        Linear.forward(
            out: x, input: s.gelu, weight: w.fc2W, bias: w.fc2B, M: R, C: H, OC: D, accumulate: true, engine: engine)
    }
}

// BertTextEncoder: a Hugging Face BertModel forward (post-LN blocks, exact-erf GELU) pooled and projected as
// the official `encode_clap_text` does (docs/TEXT.md):
//   x = LN(word[id] + position[t] + tokenType[0]);  per layer: x = LN(x + out(attn(qkv(x))));
//   x = LN(x + fc2(gelu(fc1(x))));  pooled = x[CLS] or mean over the text's tokens;  text_proj when present.
// A batch is ragged, each text attending only within itself: the same as padding to the longest text with
// an attention mask (a masked key's weight is exactly 0 there), without the padded rows' work.
import M2DOps
import M2DTensor

public final class BertTextEncoder: @unchecked Sendable {
    // SAFETY: immutable after init; every forward allocates its own workspace.
    public let weights: TextWeights
    public var config: TextConfig { weights.config }
    /// Most token rows one forward holds (texts are grouped up to it), bounding the workspace.
    public let rowBudget: Int
    let engine: GEMMEngine?

    /// The products' precision: "fp32" (OpenBLAS, or oneDNN) or "bf16".
    public var precisionName: String { engine?.precision.rawValue ?? "fp32" }

    /// `engine` nil runs the products on OpenBLAS.
    public init(weights: TextWeights, rowBudget: Int = 4096, engine: GEMMEngine? = nil) {
        self.weights = weights
        self.rowBudget = max(1, rowBudget)
        self.engine = engine
    }

    /// (texts.count, outputDim) embeddings of token sequences ([CLS] ... [SEP], each 1...maxPositions ids,
    /// every id below the vocabulary size: the tokenizer's output), row i for sequence i. A product the engine
    /// failed is an error, never a wrong embedding.
    public func embed(_ sequences: [[Int32]]) throws(TextModelError) -> FloatBuffer {
        let out = FloatBuffer(count: sequences.count * config.outputDim)
        var first = 0
        while first < sequences.count {
            var last = first + 1, rows = sequences[first].count
            while last < sequences.count && rows + sequences[last].count <= rowBudget {
                rows += sequences[last].count
                last += 1
            }
            forward(Array(sequences[first..<last]), into: out.pointer + first * config.outputDim)
            if let failure = engine?.takeFailure() { throw .engine(failure) }
            first = last
        }
        return out
    }

    /// Embeds one group of sequences into `out` (group.count, outputDim).
    func forward(_ group: [[Int32]], into out: UnsafeMutablePointer<Float>) {
        let c = config, D = c.hidden, I = c.intermediate
        let lengths = group.map(\.count)
        var starts: [Int] = [], R = 0
        for n in lengths {
            precondition(n >= 1 && n <= c.maxPositions, "a text of \(n) tokens (1...\(c.maxPositions))")
            starts.append(R)
            R += n
        }
        let maxLength = lengths.max() ?? 1
        // Every row-wise step runs on whole tiles of the engine (the rows past the texts are zeros, never read).
        let multiple = engine?.rowMultiple ?? 1
        R = (R + multiple - 1) / multiple * multiple
        let x = FloatBuffer(count: R * D), sum = FloatBuffer(count: R * D), qkv = FloatBuffer(count: R * 3 * D)
        let attn = FloatBuffer(count: R * D), fc1 = FloatBuffer(count: R * I)
        sum.zero()
        attn.zero()
        let probs = FloatBuffer(count: c.heads * maxLength * maxLength)
        embedTokens(group, starts: starts, into: sum.pointer)
        let eps = c.layerNormEpsilon
        LayerNorm.forward(
            out: x.pointer, mean: nil, rstd: nil, input: sum.pointer, weight: weights.embeddingNormW.pointer,
            bias: weights.embeddingNormB.pointer, rows: R, cols: D, eps: eps)
        for w in weights.layers {
            Linear.forward(
                out: qkv.pointer, input: x.pointer, weight: w.qkvW.pointer, bias: w.qkvB.pointer, M: R, C: D,
                OC: 3 * D, engine: engine)
            Attention.forward(
                out: attn.pointer, probs: probs.pointer, probsStride: 0, qkv: qkv.pointer, starts: starts,
                lengths: lengths, heads: c.heads, headDim: D / c.heads, engine: engine)
            sum.pointer.update(from: x.pointer, count: R * D)
            Linear.forward(
                out: sum.pointer, input: attn.pointer, weight: w.outW.pointer, bias: w.outB.pointer, M: R, C: D,
                OC: D, accumulate: true, engine: engine)
            LayerNorm.forward(
                out: x.pointer, mean: nil, rstd: nil, input: sum.pointer, weight: w.attnNormW.pointer,
                bias: w.attnNormB.pointer, rows: R, cols: D, eps: eps)
            Linear.forward(
                out: fc1.pointer, input: x.pointer, weight: w.fc1W.pointer, bias: w.fc1B.pointer, M: R, C: D,
                OC: I, engine: engine)
            GELU.forwardInPlace(fc1.pointer, count: R * I)
            sum.pointer.update(from: x.pointer, count: R * D)
            Linear.forward(
                out: sum.pointer, input: fc1.pointer, weight: w.fc2W.pointer, bias: w.fc2B.pointer, M: R, C: I,
                OC: D, accumulate: true, engine: engine)
            LayerNorm.forward(
                out: x.pointer, mean: nil, rstd: nil, input: sum.pointer, weight: w.outNormW.pointer,
                bias: w.outNormB.pointer, rows: R, cols: D, eps: eps)
        }
        let pooled = FloatBuffer(count: group.count * D)
        pool(x.pointer, starts: starts, lengths: lengths, into: pooled.pointer)
        project(pooled.pointer, count: group.count, into: out)
    }

    /// word[id] + position[t] + tokenType[0] for every row (token types are all zero, as the runtime passes).
    func embedTokens(_ group: [[Int32]], starts: [Int], into sum: UnsafeMutablePointer<Float>) {
        let D = config.hidden, vocabulary = config.vocabularySize
        let words = weights.wordEmbeddings.pointer, positions = weights.positionEmbeddings.pointer
        let type0 = weights.tokenTypeEmbeddings.pointer
        for (s, ids) in group.enumerated() {
            for (t, id) in ids.enumerated() {
                precondition(id >= 0 && Int(id) < vocabulary, "token id \(id) outside the vocabulary")
                let row = sum + (starts[s] + t) * D, word = words + Int(id) * D, position = positions + t * D
                // torch: (inputs_embeds + token_type_embeddings) + position_embeddings, in that order.
                for d in 0..<D { row[d] = (word[d] + type0[d]) + position[d] }
            }
        }
    }

    /// [CLS] rows or means over each text's rows: pooled (texts, D).
    func pool(
        _ x: UnsafePointer<Float>, starts: [Int], lengths: [Int], into pooled: UnsafeMutablePointer<Float>
    ) {
        let D = config.hidden
        for s in 0..<starts.count {
            let row = pooled + s * D
            switch config.pooling {
            case .cls: row.update(from: x + starts[s] * D, count: D)
            case .mean:
                for d in 0..<D { row[d] = 0 }
                for t in 0..<lengths[s] {
                    let token = x + (starts[s] + t) * D
                    for d in 0..<D { row[d] += token[d] }
                }
                let n = Float(lengths[s])
                for d in 0..<D { row[d] /= n }
            }
        }
    }

    /// out (texts, outputDim) = text_proj(pooled), or pooled itself.
    func project(_ pooled: UnsafeMutablePointer<Float>, count n: Int, into out: UnsafeMutablePointer<Float>) {
        let D = config.hidden, E = config.outputDim
        switch weights.projection.count {
        case 0: out.update(from: pooled, count: n * D)
        case 1:
            let (w, b) = weights.projection[0]
            Linear.forward(out: out, input: pooled, weight: w.pointer, bias: b.pointer, M: n, C: D, OC: E)
        default:
            let hidden = FloatBuffer(count: n * D)
            let (w0, b0) = weights.projection[0], (w2, b2) = weights.projection[1]
            Linear.forward(out: hidden.pointer, input: pooled, weight: w0.pointer, bias: b0.pointer, M: n, C: D, OC: D)
            for i in 0..<(n * D) { hidden.pointer[i] = max(0, hidden.pointer[i]) }
            Linear.forward(out: out, input: hidden.pointer, weight: w2.pointer, bias: b2.pointer, M: n, C: D, OC: E)
        }
    }
}

// AudioProjection: the audio side of an M2D-CLAP checkpoint (docs/NUMERICS.md §4.5), as the official
// `encode_clap_audio` with `flat_features=True` applies it to a clip's D-d patch tokens:
// - `mlp` (2024): Linear(D, D), ReLU, Linear(D, D) on the mean of all tokens;
// - `semantic` (2025, AudioToSemantic): a learned token prepended to all tokens, one timm Block (1 head,
//   LayerNorm eps 1e-5), then LayerNorm of that token. Only the prepended token's output is used, so the block
//   is computed for that row alone (exact: every other row only feeds it keys and values): O(N·D²) for the
//   keys and values, not O(N²), in blocks of rows with an online softmax, so memory does not grow with N.
// File: <model>/audio_proj.safetensors, the official tensors without the `audio_proj.` prefix, metadata kind.
import Foundation
import M2DCheckpoint
import M2DOps
import M2DTensor

public struct AudioProjection: Sendable {
    public enum Kind: String, Sendable { case mlp, semantic }

    public let kind: Kind
    public let dim: Int
    public let hidden: Int
    let tensors: [String: [Float]]
    static let blockEpsilon: Float = 1e-5
    public static let fileName = "audio_proj.safetensors"

    /// The projection of an official checkpoint's `audio_proj.*` tensors (prefix stripped), nil when there are
    /// none; shapes checked against the token width D.
    public init?(official tensors: [String: (shape: [Int], values: [Float])], dim D: Int) throws(ModelError) {
        func need(_ key: String, _ shape: [Int]) throws(ModelError) -> [Float] {
            guard let t = tensors[key] else {
                throw .checkpoint(.missingKey(key: "audio_proj." + key, expected: Shape(shape)))
            }
            guard t.shape == shape else {
                throw .checkpoint(
                    .shapeMismatch(key: "audio_proj." + key, expected: Shape(shape), actual: Shape(t.shape)))
            }
            return t.values
        }
        var kept: [String: [Float]] = [:]
        if tensors["0.weight"] != nil {
            kind = .mlp
            hidden = D
            for (k, s) in [("0.weight", [D, D]), ("0.bias", [D]), ("2.weight", [D, D]), ("2.bias", [D])] {
                kept[k] = try need(k, s)
            }
        } else if tensors["sem_token"] != nil {
            kind = .semantic
            if tensors.keys.contains(where: { $0.hasPrefix("sem_blocks.1.") }) {
                throw .invalidConfig("audio_proj has more than one AudioToSemantic block; only one (the 2025 "
                    + "release) is supported")
            }
            guard let fc1 = tensors["sem_blocks.0.mlp.fc1.weight"], fc1.shape.count == 2 else {
                throw .checkpoint(.missingKey(key: "audio_proj.sem_blocks.0.mlp.fc1.weight", expected: [D, D]))
            }
            hidden = fc1.shape[0]
            let H = hidden
            let shapes: [(String, [Int])] = [
                ("sem_token", [1, 1, D]), ("norm1.weight", [D]), ("norm1.bias", [D]), ("attn.qkv.weight", [3 * D, D]),
                ("attn.qkv.bias", [3 * D]), ("attn.proj.weight", [D, D]), ("attn.proj.bias", [D]),
                ("norm2.weight", [D]), ("norm2.bias", [D]), ("mlp.fc1.weight", [H, D]), ("mlp.fc1.bias", [H]),
                ("mlp.fc2.weight", [D, H]), ("mlp.fc2.bias", [D]), ("norm.weight", [D]), ("norm.bias", [D]),
            ]
            for (k, s) in shapes {
                let key = k == "sem_token" || k.hasPrefix("norm.") ? k : "sem_blocks.0." + k
                kept[key] = try need(key, s)
            }
        } else {
            return nil
        }
        dim = D
        self.tensors = kept
    }

    /// The `audio_proj.*` tensors of the official M2D-CLAP checkpoint at `path`, nil when it has none.
    public static func official(_ path: String, dim: Int) throws(ModelError) -> AudioProjection? {
        let checkpoint: PyTorchCheckpoint
        do { checkpoint = try PyTorchCheckpoint(path: path) } catch { throw .checkpoint(error) }
        return try official(checkpoint, dim: dim)
    }

    /// The `audio_proj.*` tensors of an official M2D-CLAP checkpoint, nil when it has none.
    public static func official(_ checkpoint: PyTorchCheckpoint, dim: Int) throws(ModelError) -> AudioProjection? {
        var found: [String: (shape: [Int], values: [Float])] = [:]
        for (key, t) in OfficialCheckpoint.stateTensors(checkpoint) where key.hasPrefix("audio_proj.") {
            let values: [Float]
            do { values = try checkpoint.array(t, name: key) } catch { throw .checkpoint(error) }
            found[String(key.dropFirst("audio_proj.".count))] = (t.shape, values)
        }
        return try AudioProjection(official: found, dim: dim)
    }

    init(kind: Kind, dim: Int, hidden: Int, tensors: [String: [Float]]) {
        self.kind = kind
        self.dim = dim
        self.hidden = hidden
        self.tensors = tensors
    }

    /// A tensor of this projection (every key of `sizes` is present: the initializers check them).
    private func tensor(_ key: String) -> [Float] { tensors[key] ?? [] }

    /// Rows per block of the semantic projection's keys and values: bounded scratch whatever the clip length.
    public static let blockRows = 1024

    /// The projected embedding (D) of a clip's N patch tokens (N, D), in any order.
    public func project(tokens: UnsafePointer<Float>, count N: Int, blockRows: Int = blockRows) -> [Float] {
        precondition(N > 0)
        switch kind {
        case .mlp:
            let D = dim
            var mean = [Float](repeating: 0, count: D)
            for n in 0..<N { for d in 0..<D { mean[d] += tokens[n * D + d] } }
            for d in 0..<D { mean[d] /= Float(N) }
            return mlp(mean)
        case .semantic: return semantic(tokens: tokens, count: N, blockRows: max(1, blockRows))
        }
    }

    private func mlp(_ x: [Float]) -> [Float] {
        let D = dim
        var h = [Float](repeating: 0, count: D), out = [Float](repeating: 0, count: D)
        Linear.forward(out: &h, input: x, weight: tensor("0.weight"), bias: tensor("0.bias"), M: 1, C: D, OC: D)
        for i in 0..<D { h[i] = max(0, h[i]) }
        Linear.forward(out: &out, input: h, weight: tensor("2.weight"), bias: tensor("2.bias"), M: 1, C: D, OC: D)
        return out
    }

    private func semantic(tokens: UnsafePointer<Float>, count N: Int, blockRows: Int) -> [Float] {
        let D = dim, H = hidden, p = "sem_blocks.0.", eps = Self.blockEpsilon
        let qkvW = tensor(p + "attn.qkv.weight"), qkvB = tensor(p + "attn.qkv.bias")
        let n1W = tensor(p + "norm1.weight"), n1B = tensor(p + "norm1.bias")
        // Row 0 is the semantic token: its query is the only one the output needs.
        let token = tensor("sem_token")
        var ln0 = [Float](repeating: 0, count: D), qkv0 = [Float](repeating: 0, count: 3 * D)
        LayerNorm.forward(out: &ln0, input: token, weight: n1W, bias: n1B, rows: 1, cols: D, eps: eps)
        Linear.forward(out: &qkv0, input: ln0, weight: qkvW, bias: qkvB, M: 1, C: D, OC: 3 * D)
        let query = Array(qkv0[0..<D]), scale = 1 / Double(D).squareRoot()
        // Online softmax over the keys of row 0 and of every token, block by block.
        var top = -Double.infinity, total = 0.0, weighted = [Double](repeating: 0, count: D)
        func absorb(key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
            var score = 0.0
            for d in 0..<D { score += Double(query[d]) * Double(key[d]) }
            score *= scale
            if score > top {
                let shrink = Foundation.exp(top - score)
                total *= shrink
                for d in 0..<D { weighted[d] *= shrink }
                top = score
            }
            let w = Foundation.exp(score - top)
            total += w
            for d in 0..<D { weighted[d] += w * Double(value[d]) }
        }
        qkv0.withUnsafeBufferPointer { absorb(key: $0.baseAddress! + D, value: $0.baseAddress! + 2 * D) }
        let rows = min(blockRows, N)
        let ln = FloatBuffer(count: rows * D), kv = FloatBuffer(count: rows * 2 * D)
        var first = 0
        while first < N {
            let r = min(rows, N - first)
            LayerNorm.forward(
                out: ln.pointer, input: tokens + first * D, weight: n1W, bias: n1B, rows: r, cols: D, eps: eps)
            // Keys and values only: rows D..<3D of the qkv weight.
            qkvW.withUnsafeBufferPointer { w in
                qkvB.withUnsafeBufferPointer { b in
                    Linear.forward(
                        out: kv.pointer, input: ln.pointer, weight: w.baseAddress! + D * D, bias: b.baseAddress! + D,
                        M: r, C: D, OC: 2 * D)
                }
            }
            for i in 0..<r { absorb(key: kv.pointer + i * 2 * D, value: kv.pointer + i * 2 * D + D) }
            first += r
        }
        let attended = weighted.map { Float($0 / total) }
        var row = token
        Linear.forward(
            out: &row, input: attended, weight: tensor(p + "attn.proj.weight"), bias: tensor(p + "attn.proj.bias"),
            M: 1, C: D, OC: D, accumulate: true)
        var normed = [Float](repeating: 0, count: D), fc1 = [Float](repeating: 0, count: H)
        LayerNorm.forward(
            out: &normed, input: row, weight: tensor(p + "norm2.weight"), bias: tensor(p + "norm2.bias"), rows: 1,
            cols: D, eps: eps)
        Linear.forward(
            out: &fc1, input: normed, weight: tensor(p + "mlp.fc1.weight"), bias: tensor(p + "mlp.fc1.bias"), M: 1,
            C: D, OC: H)
        GELU.forwardInPlace(&fc1, count: H)
        Linear.forward(
            out: &row, input: fc1, weight: tensor(p + "mlp.fc2.weight"), bias: tensor(p + "mlp.fc2.bias"), M: 1,
            C: H, OC: D, accumulate: true)
        var out = [Float](repeating: 0, count: D)
        LayerNorm.forward(
            out: &out, input: row, weight: tensor("norm.weight"), bias: tensor("norm.bias"), rows: 1, cols: D, eps: eps)
        return out
    }

    // MARK: the model directory's file

    public func write(toModel directory: String) throws {
        var writer = SafeTensorsWriter()
        for key in tensors.keys.sorted() { writer.add(key, shape: [tensors[key]!.count], array: tensors[key]!) }
        writer.metadata = ["kind": kind.rawValue, "dim": "\(dim)", "hidden": "\(hidden)"]
        try writer.write(to: directory + "/" + Self.fileName)
    }

    /// The model's projection, nil when it has none; `dim` is the model's token width.
    public static func load(modelDirectory: String, dim: Int) throws(ModelError) -> AudioProjection? {
        let path = modelDirectory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try ModelError.mapping(context: path) {
            let file = try SafeTensorsFile(path: path)
            guard let kind = file.metadata["kind"].flatMap(Kind.init), file.metadata["dim"] == "\(dim)" else {
                throw ModelError.invalidConfig("\(path): needs metadata kind (mlp | semantic) and dim \(dim) (the "
                    + "model's width)")
            }
            // The MLP width comes from a tensor the file holds, never from a number it claims.
            let hidden = kind == .mlp ? dim : file.shape(of: "sem_blocks.0.mlp.fc1.bias")?.count ?? 0
            guard hidden > 0, hidden <= 16 * dim else {
                throw ModelError.invalidConfig("\(path): sem_blocks.0.mlp.fc1.bias must hold 1 to \(16 * dim) values")
            }
            var tensors: [String: [Float]] = [:]
            for (key, count) in Self.sizes(kind, dim: dim, hidden: hidden) {
                guard file.shape(of: key)?.count == count else {
                    throw ModelError.invalidConfig("\(path): '\(key)' must hold \(count) values")
                }
                tensors[key] = try file.array(key)
                guard tensors[key]!.allSatisfy(\.isFinite) else {
                    throw ModelError.invalidConfig("\(path): '\(key)' holds a value that is not finite")
                }
            }
            return AudioProjection(kind: kind, dim: dim, hidden: hidden, tensors: tensors)
        }
    }

    /// The values each tensor of a projection holds.
    static func sizes(_ kind: Kind, dim D: Int, hidden H: Int) -> [String: Int] {
        let p = "sem_blocks.0."
        return kind == .mlp
            ? ["0.weight": D * D, "0.bias": D, "2.weight": D * D, "2.bias": D]
            : [
                "sem_token": D, p + "norm1.weight": D, p + "norm1.bias": D, p + "attn.qkv.weight": 3 * D * D,
                p + "attn.qkv.bias": 3 * D, p + "attn.proj.weight": D * D, p + "attn.proj.bias": D,
                p + "norm2.weight": D, p + "norm2.bias": D, p + "mlp.fc1.weight": H * D, p + "mlp.fc1.bias": H,
                p + "mlp.fc2.weight": D * H, p + "mlp.fc2.bias": D, "norm.weight": D, "norm.bias": D,
            ]
    }
}

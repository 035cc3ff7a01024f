// AudioProjection: the audio side of an M2D-CLAP checkpoint (docs/NUMERICS.md §4.5), as the official
// `encode_clap_audio` with `flat_features=True` applies it to a clip's D-d patch tokens:
// - `mlp` (2024): Linear(D, D), ReLU, Linear(D, D) on the mean of all tokens;
// - `semantic` (2025, AudioToSemantic): a learned token prepended to all tokens, one timm Block (1 head,
//   LayerNorm eps 1e-5), then LayerNorm of that token. Only the prepended token's output is used, so the block
//   is computed for that row alone (exact: every other row only feeds it keys and values), O(N·D), not O(N²).
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

    /// The `audio_proj.*` tensors of an official M2D-CLAP checkpoint, nil when it has none.
    public static func official(_ path: String, dim: Int) throws(ModelError) -> AudioProjection? {
        let checkpoint: PyTorchCheckpoint
        do { checkpoint = try PyTorchCheckpoint(path: path) } catch { throw .checkpoint(error) }
        var found: [String: (shape: [Int], values: [Float])] = [:]
        for (key, t) in OfficialCheckpoint.stateTensors(checkpoint) where key.hasPrefix("audio_proj.") {
            guard t.shape.reduce(1, *) <= 1 << 26 else { throw .invalidConfig("\(key) is implausibly large") }
            var values = [Float](repeating: 0, count: t.shape.reduce(1, *))
            do {
                try values.withUnsafeMutableBufferPointer { p throws(CheckpointError) in
                    try checkpoint.read(t, name: key, into: p.baseAddress!)
                }
            } catch { throw .checkpoint(error) }
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

    private func t(_ key: String) -> [Float] { tensors[key]! }

    /// The projected embedding (D) of a clip's N patch tokens (N, D), in any order.
    public func project(tokens: UnsafePointer<Float>, count N: Int) -> [Float] {
        precondition(N > 0)
        let D = dim
        var mean = [Float](repeating: 0, count: D)
        for n in 0..<N { for d in 0..<D { mean[d] += tokens[n * D + d] } }
        for d in 0..<D { mean[d] /= Float(N) }
        switch kind {
        case .mlp: return mlp(mean)
        case .semantic: return semantic(tokens: tokens, count: N)
        }
    }

    private func mlp(_ x: [Float]) -> [Float] {
        let D = dim
        var h = [Float](repeating: 0, count: D), out = [Float](repeating: 0, count: D)
        Linear.forward(out: &h, input: x, weight: t("0.weight"), bias: t("0.bias"), M: 1, C: D, OC: D)
        for i in 0..<D { h[i] = max(0, h[i]) }
        Linear.forward(out: &out, input: h, weight: t("2.weight"), bias: t("2.bias"), M: 1, C: D, OC: D)
        return out
    }

    private func semantic(tokens: UnsafePointer<Float>, count N: Int) -> [Float] {
        let D = dim, H = hidden, R = N + 1, p = "sem_blocks.0."
        let x = FloatBuffer(count: R * D), ln = FloatBuffer(count: R * D), qkv = FloatBuffer(count: R * 3 * D)
        x.pointer.update(from: t("sem_token"), count: D)
        (x.pointer + D).update(from: tokens, count: N * D)
        LayerNorm.forward(
            out: ln.pointer, input: x.pointer, weight: t(p + "norm1.weight"), bias: t(p + "norm1.bias"), rows: R,
            cols: D, eps: Self.blockEpsilon)
        Linear.forward(
            out: qkv.pointer, input: ln.pointer, weight: t(p + "attn.qkv.weight"), bias: t(p + "attn.qkv.bias"), M: R,
            C: D, OC: 3 * D)
        // One head: row 0's query against every row's key (scale 1/sqrt(D)), softmax, values.
        let q = qkv.pointer, scale = 1 / Double(D).squareRoot()
        var scores = [Double](repeating: 0, count: R)
        for r in 0..<R {
            var acc = 0.0
            for d in 0..<D { acc += Double(q[d]) * Double(q[r * 3 * D + D + d]) }
            scores[r] = acc * scale
        }
        let top = scores.max()!
        var total = 0.0
        for r in 0..<R { scores[r] = Foundation.exp(scores[r] - top); total += scores[r] }
        var attended = [Float](repeating: 0, count: D)
        for d in 0..<D {
            var acc = 0.0
            for r in 0..<R { acc += scores[r] * Double(q[r * 3 * D + 2 * D + d]) }
            attended[d] = Float(acc / total)
        }
        var row = Array(UnsafeBufferPointer(start: x.pointer, count: D))
        Linear.forward(
            out: &row, input: attended, weight: t(p + "attn.proj.weight"), bias: t(p + "attn.proj.bias"), M: 1, C: D,
            OC: D, accumulate: true)
        var normed = [Float](repeating: 0, count: D), fc1 = [Float](repeating: 0, count: H)
        LayerNorm.forward(
            out: &normed, input: row, weight: t(p + "norm2.weight"), bias: t(p + "norm2.bias"), rows: 1, cols: D,
            eps: Self.blockEpsilon)
        Linear.forward(
            out: &fc1, input: normed, weight: t(p + "mlp.fc1.weight"), bias: t(p + "mlp.fc1.bias"), M: 1, C: D, OC: H)
        GELU.forwardInPlace(&fc1, count: H)
        Linear.forward(
            out: &row, input: fc1, weight: t(p + "mlp.fc2.weight"), bias: t(p + "mlp.fc2.bias"), M: 1, C: H, OC: D,
            accumulate: true)
        var out = [Float](repeating: 0, count: D)
        LayerNorm.forward(
            out: &out, input: row, weight: t("norm.weight"), bias: t("norm.bias"), rows: 1, cols: D,
            eps: Self.blockEpsilon)
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
        do {
            let file = try SafeTensorsFile(path: path)
            guard let kind = file.metadata["kind"].flatMap(Kind.init), file.metadata["dim"] == "\(dim)",
                let hidden = file.metadata["hidden"].flatMap(Int.init), hidden > 0
            else {
                throw ModelError.invalidConfig(
                    "\(path): needs metadata kind (mlp | semantic), dim \(dim) (the model's width) and hidden")
            }
            var tensors: [String: [Float]] = [:]
            for key in file.keys { tensors[key] = try file.array(key) }
            let projection = AudioProjection(kind: kind, dim: dim, hidden: hidden, tensors: tensors)
            try projection.checkSizes(path)
            return projection
        } catch let error as ModelError {
            throw error
        } catch let error as CheckpointError {
            throw .checkpoint(error)
        } catch {
            throw .invalidConfig("\(path): \(error)")
        }
    }

    private func checkSizes(_ path: String) throws(ModelError) {
        let D = dim, H = hidden, p = "sem_blocks.0."
        let sizes: [String: Int] =
            kind == .mlp
            ? ["0.weight": D * D, "0.bias": D, "2.weight": D * D, "2.bias": D]
            : [
                "sem_token": D, p + "norm1.weight": D, p + "norm1.bias": D, p + "attn.qkv.weight": 3 * D * D,
                p + "attn.qkv.bias": 3 * D, p + "attn.proj.weight": D * D, p + "attn.proj.bias": D,
                p + "norm2.weight": D, p + "norm2.bias": D, p + "mlp.fc1.weight": H * D, p + "mlp.fc1.bias": H,
                p + "mlp.fc2.weight": D * H, p + "mlp.fc2.bias": D, "norm.weight": D, "norm.bias": D,
            ]
        for (key, count) in sizes where tensors[key]?.count != count {
            throw .invalidConfig("\(path): '\(key)' must hold \(count) values")
        }
    }
}

// ProbeHead: a linear classifier over clip or frame embeddings (docs/DESIGN.md "Probe head"): standardize
// with the training statistics, then logits = W x + b, then softmax (single-label) or sigmoid (multi-label).
// x is the embedding itself (our probes) or the mean of its F frequency tokens (`token_mean`: the heads of
// the official AudioSet checkpoints, which the official runtime runs on the D-d mean of all patch tokens).
// File: heads/<name>.safetensors with weight [C,X], bias [C], mean [X], scale [X] and metadata labels (JSON
// array; missing: index names), multi_label ("true"/"false"), input ("embedding" | "token_mean") plus the
// probe's report.
import Foundation
import M2DCheckpoint
import M2DOps
import M2DTensor

public struct ProbeHead: Sendable {
    public enum Activation: String, Sendable { case softmax, sigmoid, none }
    public enum Input: String, Sendable { case embedding, tokenMean = "token_mean" }

    public var name: String
    public var labels: [String]
    public var multiLabel: Bool
    /// Row-major (classes, dim).
    public var weight: [Float]
    public var bias: [Float]
    public var mean: [Float]
    public var scale: [Float]
    /// The probe's report (task, metric, accuracy, split sizes, ...), free-form strings.
    public var report: [String: String]
    public var input: Input
    /// Why the file's labels were replaced by index names (nil when it had labels).
    public var labelsWarning: String?

    public init(
        name: String, labels: [String], multiLabel: Bool, weight: [Float], bias: [Float], mean: [Float], scale: [Float],
        report: [String: String] = [:], input: Input = .embedding
    ) {
        self.input = input
        self.name = name
        self.labels = labels
        self.multiLabel = multiLabel
        self.weight = weight
        self.bias = bias
        self.mean = mean
        self.scale = scale
        self.report = report
    }

    public var classes: Int { labels.count }
    public var dim: Int { mean.count }
    public var defaultActivation: Activation { multiLabel ? .sigmoid : .softmax }

    /// The head's input length for a model: the embedding's, or D for token-mean heads.
    public static func inputDim(_ input: Input, config: ModelConfig) -> Int {
        input == .tokenMean ? config.embedDim : config.embeddingDim
    }

    /// The head's input from one clip or frame embedding of `embedDim`-wide tokens: the embedding, or for
    /// token-mean heads the mean over its F stacked tokens (a flat-features clip is already that mean).
    public func features<Row: RandomAccessCollection>(_ embedding: Row, embedDim: Int) -> [Float]
    where Row.Element == Float, Row.Index == Int {
        guard input == .tokenMean, embedding.count != embedDim else { return Array(embedding) }
        let tokens = embedding.count / embedDim
        precondition(tokens * embedDim == embedding.count, "embedding is not a stack of \(embedDim)-d tokens")
        var out = [Float](repeating: 0, count: embedDim)
        let base = embedding.startIndex
        for d in 0..<embedDim {
            var acc: Float = 0
            for f in 0..<tokens { acc += embedding[base + f * embedDim + d] }
            out[d] = acc / Float(tokens)
        }
        return out
    }

    /// Logits for one embedding (accumulated in Double).
    public func logits(_ embedding: [Float]) -> [Float] {
        precondition(embedding.count == dim, "embedding has \(embedding.count) values, head expects \(dim)")
        let x = (0..<dim).map { Double((embedding[$0] - mean[$0]) / scale[$0]) }
        return (0..<classes).map { c in
            var acc = Double(bias[c])
            for d in 0..<dim { acc += Double(weight[c * dim + d]) * x[d] }
            return Float(acc)
        }
    }

    public func scores(_ embedding: [Float], activation: Activation? = nil) -> [Float] {
        activate(logits(embedding), activation ?? defaultActivation)
    }

    /// Scores (T, C) of T frame embeddings (T, rowDim) in one product (a long clip has thousands of frames).
    public func frameScores(
        _ frames: UnsafePointer<Float>, count T: Int, rowDim: Int, embedDim: Int, activation: Activation? = nil
    ) -> [Float] {
        let X = dim, C = classes
        let inputs = FloatBuffer(count: T * X)
        for t in 0..<T {
            let x = features(UnsafeBufferPointer(start: frames + t * rowDim, count: rowDim)[...], embedDim: embedDim)
            for d in 0..<X { inputs.pointer[t * X + d] = (x[d] - mean[d]) / scale[d] }
        }
        var z = [Float](repeating: 0, count: T * C)
        Linear.forward(out: &z, input: inputs.pointer, weight: weight, bias: bias, M: T, C: X, OC: C)
        let chosen = activation ?? defaultActivation
        return (0..<T).flatMap { activate(Array(z[($0 * C)..<(($0 + 1) * C)]), chosen) }
    }

    private func activate(_ z: [Float], _ activation: Activation) -> [Float] {
        switch activation {
        case .none: return z
        case .sigmoid: return z.map { 1 / (1 + Foundation.exp(-$0)) }
        case .softmax:
            let m = z.max() ?? 0
            let e = z.map { Foundation.exp(Double($0 - m)) }
            let s = e.reduce(0, +)
            return e.map { Float($0 / s) }
        }
    }

    public func write(to path: String) throws {
        var writer = SafeTensorsWriter()
        writer.add("weight", shape: [classes, dim], array: weight)
        writer.add("bias", shape: [classes], array: bias)
        writer.add("mean", shape: [dim], array: mean)
        writer.add("scale", shape: [dim], array: scale)
        let labelsJSON = String(decoding: try JSONSerialization.data(withJSONObject: labels), as: UTF8.self)
        writer.metadata = report.merging([
            "multi_label": multiLabel ? "true" : "false", "name": name, "input": input.rawValue,
        ]) { $1 }
        // Index placeholders are not names: left out, so that whoever loads the head is told.
        if labelsWarning == nil { writer.metadata["labels"] = labelsJSON }
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try writer.write(to: path)
    }

    public static func load(_ path: String) throws(ModelError) -> ProbeHead {
        try ModelError.mapping(context: path) {
            let file = try SafeTensorsFile(path: path)
            guard let wShape = file.shape(of: "weight"), wShape.rank == 2, wShape[0] > 0, wShape[1] > 0 else {
                throw ModelError.invalidConfig("\(path): 'weight' must be a [classes, dim] tensor")
            }
            let dim = wShape[1]
            var labels = (0..<wShape[0]).map { String($0) }
            var warning: String?
            if let labelsText = file.metadata["labels"] {
                guard let named = try JSONSerialization.jsonObject(with: Data(labelsText.utf8)) as? [String],
                    named.count == wShape[0]
                else {
                    throw ModelError.invalidConfig(
                        "\(path): metadata 'labels' must be a JSON array of \(wShape[0]) strings, one per row of "
                            + "weight")
                }
                labels = named
            } else {
                warning = "\(path) has no 'labels' metadata; its \(wShape[0]) classes are named by index (0, 1, ...)"
            }
            guard let input = Input(rawValue: file.metadata["input"] ?? "embedding") else {
                throw ModelError.invalidConfig("\(path): metadata 'input' must be 'embedding' or 'token_mean'")
            }
            func read(_ key: String, _ shape: Shape) throws -> [Float] {
                var out = [Float](repeating: 0, count: shape.count)
                try out.withUnsafeMutableBufferPointer { try file.read(key, expecting: shape, into: $0.baseAddress!) }
                return out
            }
            let name = file.metadata["name"] ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            var report = file.metadata
            for k in ["labels", "multi_label", "name", "format", "input"] { report[k] = nil }
            var head = ProbeHead(
                name: name, labels: labels, multiLabel: file.metadata["multi_label"] == "true",
                weight: try read("weight", [labels.count, dim]), bias: try read("bias", [labels.count]),
                mean: try read("mean", [dim]), scale: try read("scale", [dim]), report: report, input: input)
            head.labelsWarning = warning
            guard [head.weight, head.bias, head.mean].allSatisfy({ $0.allSatisfy(\.isFinite) }),
                head.scale.allSatisfy({ $0.isFinite && $0 > 0 })
            else {
                throw ModelError.invalidConfig("\(path): weight, bias and mean must be finite, scale finite and > 0")
            }
            return head
        }
    }

    /// Every `*.safetensors` in `<model>/heads/`, by name (file stem). Missing folder: none.
    public static func loadAll(modelDirectory: String, config: ModelConfig) throws(ModelError) -> [String: ProbeHead] {
        let dir = modelDirectory + "/heads"
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [:] }
        var heads: [String: ProbeHead] = [:]
        for file in files.sorted() where file.hasSuffix(".safetensors") {
            var head = try load(dir + "/" + file)
            head.name = String(file.dropLast(".safetensors".count))
            let dim = inputDim(head.input, config: config)
            guard head.dim == dim else {
                throw .invalidConfig(
                    "head \(file) (\(head.input.rawValue)) expects \(head.dim)-d inputs; this model gives \(dim)-d")
            }
            heads[head.name] = head
        }
        return heads
    }
}

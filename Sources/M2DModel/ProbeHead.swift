// ProbeHead: a linear classifier over clip embeddings (docs/DESIGN.md "Probe head"): standardize with the
// training statistics, then logits = W x + b, then softmax (single-label) or sigmoid (multi-label).
// File: heads/<name>.safetensors with weight [C,E], bias [C], mean [E], scale [E] and metadata
// labels (JSON array), multi_label ("true"/"false") plus the probe's report.
import Foundation
import M2DCheckpoint
import M2DTensor

public struct ProbeHead: Sendable {
    public enum Activation: String, Sendable { case softmax, sigmoid, none }

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

    public init(
        name: String, labels: [String], multiLabel: Bool, weight: [Float], bias: [Float], mean: [Float], scale: [Float],
        report: [String: String] = [:]
    ) {
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
        let z = logits(embedding)
        switch activation ?? defaultActivation {
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
            "labels": labelsJSON, "multi_label": multiLabel ? "true" : "false", "name": name,
        ]) { $1 }
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try writer.write(to: path)
    }

    public static func load(_ path: String) throws(ModelError) -> ProbeHead {
        do {
            let file = try SafeTensorsFile(path: path)
            guard let labelsText = file.metadata["labels"],
                let labels = try JSONSerialization.jsonObject(with: Data(labelsText.utf8)) as? [String]
            else {
                throw ModelError.invalidConfig("\(path): metadata 'labels' (a JSON array) is missing")
            }
            guard let wShape = file.shape(of: "weight"), wShape.rank == 2, wShape[0] == labels.count else {
                throw ModelError.invalidConfig("\(path): 'weight' must be [\(labels.count), dim]")
            }
            let dim = wShape[1]
            func read(_ key: String, _ shape: Shape) throws -> [Float] {
                var out = [Float](repeating: 0, count: shape.count)
                try out.withUnsafeMutableBufferPointer { try file.read(key, expecting: shape, into: $0.baseAddress!) }
                return out
            }
            let name = file.metadata["name"] ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            var report = file.metadata
            for k in ["labels", "multi_label", "name", "format"] { report[k] = nil }
            return ProbeHead(
                name: name, labels: labels, multiLabel: file.metadata["multi_label"] == "true",
                weight: try read("weight", [labels.count, dim]), bias: try read("bias", [labels.count]),
                mean: try read("mean", [dim]), scale: try read("scale", [dim]), report: report)
        } catch let e as ModelError {
            throw e
        } catch let e as CheckpointError {
            throw .checkpoint(e)
        } catch {
            throw .invalidConfig("\(path): \(error)")
        }
    }

    /// Every `*.safetensors` in `<model>/heads/`, by name (file stem). Missing folder: none.
    public static func loadAll(modelDirectory: String, dim: Int) throws(ModelError) -> [String: ProbeHead] {
        let dir = modelDirectory + "/heads"
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [:] }
        var heads: [String: ProbeHead] = [:]
        for file in files.sorted() where file.hasSuffix(".safetensors") {
            var head = try load(dir + "/" + file)
            head.name = String(file.dropLast(".safetensors".count))
            guard head.dim == dim else {
                throw .invalidConfig("head \(file) expects \(head.dim)-d embeddings; this model gives \(dim)-d")
            }
            heads[head.name] = head
        }
        return heads
    }
}

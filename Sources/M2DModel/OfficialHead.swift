// OfficialHead: the task head of an official EVAR fine-tuned checkpoint (the AudioSet ones), as the official
// runtime applies it (PortableM2D(weight, num_classes=C), docs/NUMERICS.md §4.4): BatchNorm1d with running
// statistics and no affine (eps 1e-5), then Linear, on the mean of the patch tokens. A head as wide as one
// token (D) runs on the D-d token mean (the official runtime then forces flat features); one as wide as the
// stacked embedding (F x D) runs on the embedding. Raw logits; multi-label, so sigmoid by default here.
import Foundation
import M2DCheckpoint
import M2DTensor

public enum OfficialHead {
    static let keys = (
        mean: "module.head.norm.running_mean", variance: "module.head.norm.running_var",
        weight: "module.head.mlp.mlp.0.weight", bias: "module.head.mlp.mlp.0.bias"
    )
    /// PyTorch's BatchNorm1d default.
    static let batchNormEpsilon = 1e-5

    /// The head of the checkpoint at `path`, or nil when it has none (see the other `load`).
    public static func load(
        _ path: String, name: String, labels: [String]?, config: ModelConfig
    ) throws(ModelError) -> ProbeHead? {
        let checkpoint: PyTorchCheckpoint
        do { checkpoint = try PyTorchCheckpoint(path: path) } catch { throw .checkpoint(error) }
        return try load(checkpoint, path: path, name: name, labels: labels, config: config)
    }

    /// The checkpoint's head, or nil when it has none, from its tensors after the official key handling (as
    /// `load_evar_head_parameters` reads them). `labels` name the classes in output order (nil: index names);
    /// a count that differs from the head's classes is an error.
    public static func load(
        _ checkpoint: PyTorchCheckpoint, path: String, name: String, labels: [String]?, config: ModelConfig
    ) throws(ModelError) -> ProbeHead? {
        let tensors = OfficialCheckpoint.stateTensors(checkpoint)
        guard let weight = tensors[keys.weight] else { return nil }
        guard weight.shape.count == 2, weight.shape[0] > 0 else {
            throw .checkpoint(
                .shapeMismatch(key: keys.weight, expected: [527, config.embedDim], actual: Shape(weight.shape)))
        }
        let classes = weight.shape[0], dim = weight.shape[1]
        do { _ = try checkpoint.checkedCount(weight, name: keys.weight) } catch { throw .checkpoint(error) }
        let input: ProbeHead.Input
        if dim == config.embeddingDim {
            input = .embedding
        } else if dim == config.embedDim {
            input = .tokenMean
        } else {
            throw .invalidConfig(
                "\(keys.weight) is [\(classes), \(dim)]; this encoder gives \(config.embedDim)-d tokens and "
                    + "\(config.embeddingDim)-d embeddings")
        }
        func read(_ key: String, _ shape: Shape) throws(ModelError) -> [Float] {
            guard let t = tensors[key] else { throw .checkpoint(.missingKey(key: key, expected: shape)) }
            guard Shape(t.shape) == shape else {
                throw .checkpoint(.shapeMismatch(key: key, expected: shape, actual: Shape(t.shape)))
            }
            do { return try checkpoint.array(t, name: key) } catch { throw .checkpoint(error) }
        }
        if let labels, labels.count != classes {
            throw .invalidConfig("the labels name \(labels.count) classes; the checkpoint's head has \(classes)")
        }
        let variance = try read(keys.variance, [dim])
        if let bad = variance.firstIndex(where: { !($0 >= 0) || !$0.isFinite }) {
            throw .invalidConfig("\(keys.variance)[\(bad)] is \(variance[bad]); a variance must be finite and >= 0")
        }
        var head = ProbeHead(
            name: name, labels: labels ?? (0..<classes).map { String($0) }, multiLabel: true,
            weight: try read(keys.weight, [classes, dim]), bias: try read(keys.bias, [classes]),
            mean: try read(keys.mean, [dim]),
            scale: variance.map { Float((Double($0) + batchNormEpsilon).squareRoot()) },
            report: ["source": path, "format": "official EVAR head", "task": name], input: input)
        if labels == nil { head.labelsWarning = "\(path) names no classes; they are named by index (0, 1, ...)" }
        guard [head.weight, head.bias, head.mean].allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
            throw .invalidConfig("\(path): the head's weight, bias and running mean must be finite")
        }
        return head
    }
}

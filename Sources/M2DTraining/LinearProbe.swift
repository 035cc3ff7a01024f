// LinearProbe: the linear evaluation of docs/NUMERICS.md §6 (EVAR): a single Linear(E, C) on
// standardized embeddings, PyTorch-default init U(+-1/sqrt E), Adam lr 3e-5 (L2 1e-8), batches of
// min(200, n), loss CE/C (single-label) or BCE (multi-label), at most 200 epochs, early stopping
// after 20 epochs without improvement of validation accuracy / mAP (ties count), best epoch restored.
import Foundation
import M2DOps
import M2DTensor

public struct ProbeData: Sendable {
    /// Row-major (count, dim) standardized features.
    public var features: [Float]
    public var dim: Int
    /// Per row: class indices (one for single-label, any number for multi-label).
    public var targets: [[Int]]
    public var count: Int { targets.count }

    public init(features: [Float], dim: Int, targets: [[Int]]) {
        self.features = features
        self.dim = dim
        self.targets = targets
    }
}

public struct LinearProbe: Sendable {
    public struct Config: Sendable {
        public var learningRate: Float = 3e-5
        public var weightDecay: Float = 1e-8
        public var maxEpochs = 200
        public var patience = 20
        public var batchSize = 200
        public var seed: UInt64 = 42
        public init() {}
    }

    public let classes: Int
    public let dim: Int
    public let multiLabel: Bool
    /// [weight (C,E) | bias (C)].
    public private(set) var parameters: [Float]

    public init(classes: Int, dim: Int, multiLabel: Bool, seed: UInt64) {
        self.classes = classes
        self.dim = dim
        self.multiLabel = multiLabel
        var rng = Rng(seed: seed)
        let bound = 1 / Float(dim).squareRoot()
        parameters = (0..<(classes * dim + classes)).map { _ in rng.uniform(-bound, bound) }
    }

    public var weight: [Float] { Array(parameters[0..<(classes * dim)]) }
    public var bias: [Float] { Array(parameters[(classes * dim)...]) }

    /// Logits (n, C) of rows of `data`.
    public func logits(_ data: ProbeData) -> [Float] {
        var out = [Float](repeating: 0, count: data.count * classes)
        parameters.withUnsafeBufferPointer { p in
            data.features.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { y in
                    Linear.forward(
                        out: y.baseAddress!, input: x.baseAddress!, weight: p.baseAddress!,
                        bias: p.baseAddress! + classes * dim, M: data.count, C: dim, OC: classes)
                }
            }
        }
        return out
    }

    /// Accuracy (single-label) or macro average precision (multi-label).
    public func metric(_ data: ProbeData) -> Double {
        let z = logits(data)
        return multiLabel
            ? ProbeMetrics.meanAveragePrecision(z, data.targets, classes: classes)
            : ProbeMetrics.accuracy(z, data.targets, classes: classes)
    }

    /// Loss and its gradient w.r.t. the logits for a batch: CE/C or BCE, both averaged over B*C.
    public static func lossGradient(
        _ z: [Float], _ targets: ArraySlice<[Int]>, classes C: Int, multiLabel: Bool
    ) -> (Double, [Float]) {
        let B = targets.count
        var grad = [Float](repeating: 0, count: z.count)
        var loss = 0.0
        let scale = 1 / Double(B * C)
        for (b, target) in targets.enumerated() {
            let row = Array(z[(b * C)..<((b + 1) * C)])
            if multiLabel {
                for c in 0..<C {
                    let y: Double = target.contains(c) ? 1 : 0
                    let p = 1 / (1 + Foundation.exp(-Double(row[c])))
                    loss -= (y * Foundation.log(max(p, 1e-12)) + (1 - y) * Foundation.log(max(1 - p, 1e-12))) * scale
                    grad[b * C + c] = Float((p - y) * scale)
                }
            } else {
                let m = Double(row.max() ?? 0)
                let e = row.map { Foundation.exp(Double($0) - m) }
                let s = e.reduce(0, +)
                for c in 0..<C {
                    let p = e[c] / s, y: Double = target.first == c ? 1 : 0
                    if y == 1 { loss -= Foundation.log(max(p, 1e-300)) * scale }
                    grad[b * C + c] = Float((p - y) * scale)
                }
            }
        }
        return (loss, grad)
    }

    public struct Outcome: Sendable {
        public var bestEpoch: Int
        public var epochsRun: Int
        public var bestValidMetric: Double
        public var lossHistory: [Double]
    }

    /// Trains on `train`, early-stopping on `valid`; leaves the best epoch's parameters in place.
    public mutating func fit(train: ProbeData, valid: ProbeData, config: Config = Config()) -> Outcome {
        var adam = Adam(count: parameters.count, lr: config.learningRate, weightDecay: config.weightDecay)
        var rng = Rng(seed: config.seed &+ 1)
        let batch = max(1, min(config.batchSize, train.count))
        var best = -Double.infinity, bestEpoch = 0, bestParameters = parameters, sinceBest = 0
        var history: [Double] = []
        var epoch = 0
        var order = Array(0..<train.count)
        var grads = [Float](repeating: 0, count: parameters.count)
        while epoch < config.maxEpochs {
            epoch += 1
            order.shuffle(using: &rng)
            var epochLoss = 0.0
            var start = 0
            while start < order.count {
                let idx = order[start..<min(order.count, start + batch)]
                start += batch
                var x = [Float](repeating: 0, count: idx.count * dim)
                for (r, i) in idx.enumerated() {
                    for d in 0..<dim { x[r * dim + d] = train.features[i * dim + d] }
                }
                let part = ProbeData(features: x, dim: dim, targets: idx.map { train.targets[$0] })
                let z = logits(part)
                let (loss, dz) = Self.lossGradient(z, part.targets[...], classes: classes, multiLabel: multiLabel)
                epochLoss += loss * Double(idx.count)
                for i in grads.indices { grads[i] = 0 }
                grads.withUnsafeMutableBufferPointer { g in
                    dz.withUnsafeBufferPointer { dOut in
                        x.withUnsafeBufferPointer { input in
                            parameters.withUnsafeBufferPointer { p in
                                Linear.backward(
                                    dInput: nil, dWeight: g.baseAddress!, dBias: g.baseAddress! + classes * dim,
                                    dOut: dOut.baseAddress!, input: input.baseAddress!, weight: p.baseAddress!,
                                    M: idx.count, C: dim, OC: classes)
                            }
                        }
                    }
                }
                parameters.withUnsafeMutableBufferPointer { p in
                    grads.withUnsafeBufferPointer { g in adam.update(p.baseAddress!, g.baseAddress!) }
                }
            }
            history.append(epochLoss / Double(train.count))
            let m = metric(valid)
            if m >= best {
                best = m
                bestEpoch = epoch
                bestParameters = parameters
                sinceBest = 0
            } else {
                sinceBest += 1
                if sinceBest >= config.patience { break }
            }
        }
        parameters = bestParameters
        return Outcome(bestEpoch: bestEpoch, epochsRun: epoch, bestValidMetric: best, lossHistory: history)
    }
}

public enum ProbeMetrics {
    public static func accuracy(_ z: [Float], _ targets: [[Int]], classes C: Int) -> Double {
        guard !targets.isEmpty else { return 0 }
        var correct = 0
        for (b, t) in targets.enumerated() {
            let row = z[(b * C)..<((b + 1) * C)]
            if let argmax = row.indices.max(by: { row[$0] < row[$1] }), argmax - b * C == t.first { correct += 1 }
        }
        return Double(correct) / Double(targets.count)
    }

    /// Macro average precision over classes that have positives (sklearn average_precision_score).
    public static func meanAveragePrecision(_ z: [Float], _ targets: [[Int]], classes C: Int) -> Double {
        var aps: [Double] = []
        for c in 0..<C {
            let scored = targets.indices.map { (score: z[$0 * C + c], positive: targets[$0].contains(c)) }
            let positives = scored.filter(\.positive).count
            guard positives > 0 else { continue }
            let sorted = scored.sorted { $0.score > $1.score }
            var hits = 0, ap = 0.0
            for (i, s) in sorted.enumerated() where s.positive {
                hits += 1
                ap += Double(hits) / Double(i + 1)
            }
            aps.append(ap / Double(positives))
        }
        return aps.isEmpty ? 0 : aps.reduce(0, +) / Double(aps.count)
    }
}

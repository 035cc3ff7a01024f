// ProbeRunner: embed a task's files (cached), standardize on train, train a LinearProbe with early
// stopping on valid (or a 10% hold-out of train with every class present), score the test split.
import Foundation
import M2DAudio
import M2DCheckpoint
import M2DModel
import M2DTensor

public enum ProbeFeatures {
    /// Clip embeddings of a model.
    case model(AudioEmbedder)
    /// The log-mel baseline: per-bin mean and std over time of the normalized log-mel (2 x mels).
    case logMel(ModelFrontEnd)

    public var identity: String {
        switch self {
        case let .model(e):
            "model:\(e.config.name):\(e.config.embeddingDim):"
                + ((e.encoder as? any EncoderWeightsProvider).map { Self.fingerprint($0.weights) } ?? e.encoder.summary)
                + (e.encoder.precision == .fp32 ? "" : ":\(e.encoder.precision.rawValue)")
        case let .logMel(f): "logmel:\(f.config.nMels):\(f.config.normStats)"
        }
    }

    /// A hash of every 1009th weight and the normalization, so two models that share a name never
    /// share cached embeddings.
    static func fingerprint(_ w: EncoderWeights) -> String {
        var h: UInt64 = 1469598103934665603
        var i = 0
        while i < w.storage.count { h = (h ^ UInt64(w.storage.pointer[i].bitPattern)) &* 1099511628211; i += 1009 }
        for s in w.config.normStats { h = (h ^ UInt64(s.bitPattern)) &* 1099511628211 }
        return String(h, radix: 16)
    }

    func vector(_ samples: [Float]) throws(EncoderError) -> [Float] {
        switch self {
        case let .model(e): return try e.embed(samples, keepFrames: false).clip
        case let .logMel(f):
            let mel = f.normalizedLogMel(samples)
            let mels = f.config.nMels, T = mel.count / mels
            var out = [Float](repeating: 0, count: 2 * mels)
            for m in 0..<mels {
                var s = 0.0, ss = 0.0
                for t in 0..<T { let x = Double(mel.pointer[m * T + t]); s += x; ss += x * x }
                let mean = s / Double(T)
                out[m] = Float(mean)
                out[mels + m] = Float(max(0, ss / Double(T) - mean * mean).squareRoot())
            }
            return out
        }
    }

    var sampleRate: Int {
        switch self {
        case let .model(e): e.config.sampleRate
        case let .logMel(f): f.config.sampleRate
        }
    }
}

public struct ProbeResult: Sendable {
    public var head: ProbeHead
    public var metricName: String
    public var testMetric: Double
    public var validMetric: Double
    public var perClassAccuracy: [Double]
    public var confusion: [[Int]]
    public var splitSizes: [String: Int]
    public var epochsRun: Int
    public var bestEpoch: Int
}

public enum ProbeRunner {
    /// Feature vectors for every file of `task` (file -> vector), reusing `cachePath` when it holds
    /// the same features for the same file sizes and times. Unreadable files are reported, not fatal.
    public static func extract(
        _ task: ProbeTask, features: ProbeFeatures, cachePath: String?,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> (vectors: [String: [Float]], failures: [String: String]) {
        let files = Array(Set(task.items.map(\.file))).sorted()
        var cached: [String: [Float]] = [:]
        if let cachePath, let file = try? SafeTensorsFile(path: cachePath),
            file.metadata["features"] == features.identity
        {
            for f in files where file.metadata["stamp." + f] == stamp(f) { cached[f] = try? file.array(f) }
        }
        var vectors: [String: [Float]] = [:], failures: [String: String] = [:]
        for (i, f) in files.enumerated() {
            if let v = cached[f] { vectors[f] = v; continue }
            do {
                guard let data = FileManager.default.contents(atPath: f) else {
                    throw AudioError.undecodable(reason: "cannot read file")
                }
                let audio = try AudioPipeline.prepare([UInt8](data), sampleRate: features.sampleRate, maxSeconds: 3600)
                vectors[f] = try features.vector(audio.samples)
            } catch {
                failures[f] = "\(error)"
            }
            progress(i + 1, files.count)
        }
        if let cachePath {
            var writer = SafeTensorsWriter(metadata: ["features": features.identity])
            for (f, v) in vectors {
                writer.add(f, shape: [v.count], array: v)
                writer.metadata["stamp." + f] = stamp(f)
            }
            try writer.write(to: cachePath)
        }
        return (vectors, failures)
    }

    static func stamp(_ path: String) -> String {
        guard let a = try? FileManager.default.attributesOfItem(atPath: path) else { return "?" }
        let size = (a[.size] as? NSNumber)?.intValue ?? -1
        let time = (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(size):\(time)"
    }

    /// Trains and scores one probe.
    public static func run(
        _ task: ProbeTask, vectors: [String: [Float]], seed: UInt64, name: String,
        config: LinearProbe.Config = LinearProbe.Config()
    ) throws -> ProbeResult {
        let usable = task.items.filter { vectors[$0.file] != nil }
        var train = usable.filter { $0.split == "train" }
        var valid = usable.filter { $0.split == "valid" }
        let test = usable.filter { $0.split == "test" }
        guard let dim = vectors.values.first?.count, !train.isEmpty else {
            throw ProbeTask.Failure.malformed("no usable training files")
        }
        let scaler = Standardizer(fitting: train.map { vectors[$0.file]! })
        if valid.isEmpty {
            // EVAR: hold out 10% of train, retried until every class appears in it.
            var rng = Rng(seed: seed)
            let holdout = max(1, train.count / 10)
            var best = train
            for _ in 0..<100 {
                let shuffled = train.shuffled(using: &rng)
                let candidate = Array(shuffled.prefix(holdout))
                best = shuffled
                if Set(candidate.flatMap(\.labels)).count == task.labels.count { break }
            }
            valid = Array(best.prefix(holdout))
            train = Array(best.dropFirst(holdout))
        }
        func data(_ items: [ProbeTask.Item]) -> ProbeData {
            ProbeData(
                features: items.flatMap { scaler.apply(vectors[$0.file]!) }, dim: dim, targets: items.map(task.targets))
        }
        let trainData = data(train), validData = data(valid), testData = data(test.isEmpty ? valid : test)
        var probe = LinearProbe(classes: task.labels.count, dim: dim, multiLabel: task.multiLabel, seed: seed)
        var cfg = config
        cfg.seed = seed
        let outcome = probe.fit(train: trainData, valid: validData, config: cfg)
        let testMetric = probe.metric(testData)
        // Confusion (single-label) and per-class accuracy on the scored split.
        let C = task.labels.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: C), count: C)
        let z = probe.logits(testData)
        for (b, t) in testData.targets.enumerated() {
            let row = z[(b * C)..<((b + 1) * C)]
            guard let predicted = row.indices.max(by: { row[$0] < row[$1] }).map({ $0 - b * C }), let truth = t.first
            else { continue }
            confusion[truth][predicted] += 1
        }
        let perClass = confusion.enumerated().map { c, row in
            let n = row.reduce(0, +)
            return n == 0 ? Double.nan : Double(row[c]) / Double(n)
        }
        let metricName = task.multiLabel ? "mAP" : "accuracy"
        let sizes = ["train": train.count, "valid": valid.count, "test": test.count]
        let head = ProbeHead(
            name: name, labels: task.labels, multiLabel: task.multiLabel, weight: probe.weight, bias: probe.bias,
            mean: scaler.mean, scale: scaler.scale,
            report: [
                "task": task.name, "metric": metricName, "test_\(metricName)": String(format: "%.4f", testMetric),
                "valid_\(metricName)": String(format: "%.4f", outcome.bestValidMetric),
                "train_size": "\(train.count)", "valid_size": "\(valid.count)", "test_size": "\(test.count)",
                "epochs_run": "\(outcome.epochsRun)", "best_epoch": "\(outcome.bestEpoch)", "seed": "\(seed)",
            ])
        return ProbeResult(
            head: head, metricName: metricName, testMetric: testMetric, validMetric: outcome.bestValidMetric,
            perClassAccuracy: perClass, confusion: confusion, splitSizes: sizes,
            epochsRun: outcome.epochsRun, bestEpoch: outcome.bestEpoch)
    }

    /// A readable report: metric, split sizes, epochs, per-class accuracy and the confusion matrix.
    public static func report(_ r: ProbeResult, labels: [String]) -> String {
        var s =
            "task \(r.head.report["task"] ?? "?"): test \(r.metricName) \(String(format: "%.4f", r.testMetric)) (valid "
                + "\(String(format: "%.4f", r.validMetric)))\n"
        s +=
            "splits: train \(r.splitSizes["train"] ?? 0), valid \(r.splitSizes["valid"] ?? 0), test "
                + "\(r.splitSizes["test"] ?? 0); epochs run \(r.epochsRun), best epoch \(r.bestEpoch)\n"
        s += "per-class accuracy:\n"
        for (i, l) in labels.enumerated() {
            s += "  \(l): \(r.perClassAccuracy[i].isNaN ? "-" : String(format: "%.3f", r.perClassAccuracy[i]))\n"
        }
        s += "confusion (rows = truth, columns = predicted; order as above):\n"
        for row in r.confusion { s += "  " + row.map { String(format: "%4d", $0) }.joined(separator: " ") + "\n" }
        return s
    }
}

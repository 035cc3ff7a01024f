// LinearEvaluation: the EVAR-style linear evaluation of `m2d-train eval` and `ablate`: per task,
// embed once (cached), train a probe per seed, report the test metric's mean and std.
import Foundation

public struct EvaluationRow: Sendable, Codable {
    public var features: String, task: String, metric: String
    public var mean: Double, std: Double
    public var scores: [Double]
}

/// The split whose score a row reports. `valid` (the best validation score of early stopping) is for
/// choosing between models, e.g. checkpoints of one run, without looking at the test split.
public enum EvaluationSplit: String, Sendable, CaseIterable {
    case test, valid
}

public enum LinearEvaluation {
    public static func run(
        features: ProbeFeatures, label: String, tasks: [String], seeds: [UInt64], cacheDir: String,
        split: EvaluationSplit = .test, progress: (String) -> (Int, Int) -> Void, warn: (String) -> Void
    ) throws -> [EvaluationRow] {
        try FileManager.default.createDirectory(atPath: cacheDir, withIntermediateDirectories: true)
        var rows: [EvaluationRow] = []
        for csv in tasks {
            var task = try ProbeTask(csv: csv)
            // Scoring valid never needs the test files: skipping them keeps the test split unseen and
            // saves their embedding.
            if split == .valid { task.items.removeAll { $0.split == "test" } }
            let key = (features.identity + csv).utf8.reduce(UInt64(1469598103934665603)) {
                ($0 ^ UInt64($1)) &* 1099511628211
            }
            let (vectors, failures) = try ProbeRunner.extract(
                task, features: features, cachePath: cacheDir + "/\(task.name)-\(String(key, radix: 16)).safetensors",
                progress: progress("embedding \(task.name)"))
            if !failures.isEmpty { warn("\(task.name): skipped \(failures.count) unreadable files") }
            var scores: [Double] = []
            var metric = "accuracy"
            for seed in seeds {
                let r = try ProbeRunner.run(task, vectors: vectors, seed: seed, name: task.name)
                scores.append(split == .test ? r.testMetric : r.validMetric)
                metric = split == .test ? r.metricName : r.metricName + " (valid)"
            }
            let mean = scores.reduce(0, +) / Double(scores.count)
            let std = (scores.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, scores.count - 1)))
                .squareRoot()
            rows.append(
                EvaluationRow(features: label, task: task.name, metric: metric, mean: mean, std: std, scores: scores))
        }
        return rows
    }

    /// The markdown table of `eval`: one line per task, then the average.
    public static func table(_ rows: [EvaluationRow], seeds: Int, header: Bool = true) -> String {
        var lines = header ? ["| features | task | metric | mean +- std (\(seeds) seeds) |", "|---|---|---|---|"] : []
        for r in rows {
            lines.append(
                "| \(r.features) | \(r.task) | \(r.metric) | "
                    + "\(String(format: "%.2f +- %.2f", 100 * r.mean, 100 * r.std)) |"
            )
        }
        if let first = rows.first {
            lines.append("| \(first.features) | average | | \(String(format: "%.2f", 100 * average(rows))) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func average(_ rows: [EvaluationRow]) -> Double {
        rows.map(\.mean).reduce(0, +) / Double(max(1, rows.count))
    }
}

// m2d-train probe / eval: linear evaluation (M2D-SPEC 6) and probe heads for POST /classify.
import ArgumentParser
import Foundation
import M2DModel
import M2DTensor
import M2DTraining

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Train a linear probe head on a labelled task and write it for /classify.",
        discussion: """
            The CSV has columns file,label,split (split: train, valid or test; several labels separated
            by ";" make a multi-label task). Embeddings are cached in OUT.embeddings-cache, so a re-run
            costs nothing. Writes OUT.safetensors (the head; put it in <model>/heads/) and OUT.report.txt.
            """)

    @Option(help: "Model directory or official .pth checkpoint.") var model: String
    @Option(help: "Task CSV (file,label,split).") var labels: String
    @Option(help: "Output path without extension, e.g. models/default/heads/keywords.") var out: String
    @Option(help: "Random seed.") var seed: UInt64 = 42
    @Option(help: "Largest number of epochs.") var maxEpochs = 200
    @Option(help: "Early-stopping patience in epochs.") var patience = 20
    @Option(help: "Adam learning rate.") var learningRate: Float = 3e-5

    func run() throws {
        let task: ProbeTask
        do { task = try ProbeTask(csv: labels) } catch { throw ValidationError("\(error)") }
        let loaded: LoadedModel
        do { loaded = try ModelDirectory.loadAny(model) } catch { throw ValidationError("\(error)") }
        let engine = (try? GEMMEngine(backend: .auto)) ?? GEMMEngine()
        let features = ProbeFeatures.model(AudioEmbedder(weights: loaded.weights, engine: engine))
        let path = out.hasSuffix(".safetensors") ? String(out.dropLast(".safetensors".count)) : out
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let (vectors, failures) = try ProbeRunner.extract(task, features: features, cachePath: path + ".embeddings-cache",
                                                          progress: Progress.line("embedding"))
        for (f, e) in failures.sorted(by: { $0.key < $1.key }) { FileHandle.standardError.write(Data("skipped \(f): \(e)\n".utf8)) }
        var config = LinearProbe.Config()
        config.maxEpochs = maxEpochs
        config.patience = patience
        config.learningRate = learningRate
        let result = try ProbeRunner.run(task, vectors: vectors, seed: seed, name: URL(fileURLWithPath: path).lastPathComponent, config: config)
        var head = result.head
        head.report["model"] = loaded.config.name
        head.report["skipped_files"] = "\(failures.count)"
        try head.write(to: path + ".safetensors")
        let text = ProbeRunner.report(result, labels: task.labels)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path + ".report.txt"), options: .atomic)
        print(text, terminator: "")
        print("wrote \(path).safetensors")
    }
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Linear evaluation over several tasks with 3 seeds: a table of mean +- std per task and the average.")

    @Option(help: "Model directory or official .pth checkpoint.") var model: String
    @Option(help: "Compare with a baseline instead of the model: 'logmel' (per-bin log-mel mean and std).") var baseline: String?
    @Option(help: "Seeds (comma-separated).") var seeds: String = "42,43,44"
    @Option(help: "Folder for embedding caches.") var cache: String = NSTemporaryDirectory() + "m2d-eval-cache"
    @Argument(help: "Task CSVs (file,label,split).") var tasks: [String]

    func run() throws {
        let loaded: LoadedModel
        do { loaded = try ModelDirectory.loadAny(model) } catch { throw ValidationError("\(error)") }
        let features: ProbeFeatures
        switch baseline {
        case nil: features = .model(AudioEmbedder(weights: loaded.weights, engine: (try? GEMMEngine(backend: .auto)) ?? GEMMEngine()))
        case "logmel": features = .logMel(ModelFrontEnd(config: loaded.config))
        case let other?: throw ValidationError("unknown --baseline '\(other)'; use logmel")
        }
        let seedList = seeds.split(separator: ",").compactMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
        if seedList.isEmpty { throw ValidationError("--seeds needs at least one integer") }
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let label = baseline.map { "baseline \($0)" } ?? loaded.config.name
        var rows: [(String, String, Double, Double)] = []
        for csv in tasks {
            let task: ProbeTask
            do { task = try ProbeTask(csv: csv) } catch { throw ValidationError("\(error)") }
            let key = (features.identity + csv).utf8.reduce(UInt64(1469598103934665603)) { ($0 ^ UInt64($1)) &* 1099511628211 }
            let (vectors, failures) = try ProbeRunner.extract(task, features: features, cachePath: cache + "/\(task.name)-\(String(key, radix: 16)).safetensors",
                                                              progress: Progress.line("embedding \(task.name)"))
            if !failures.isEmpty { FileHandle.standardError.write(Data("\(task.name): skipped \(failures.count) unreadable files\n".utf8)) }
            var scores: [Double] = []
            var metric = "accuracy"
            for seed in seedList {
                let r = try ProbeRunner.run(task, vectors: vectors, seed: seed, name: task.name)
                scores.append(r.testMetric)
                metric = r.metricName
            }
            let mean = scores.reduce(0, +) / Double(scores.count)
            let std = (scores.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, scores.count - 1))).squareRoot()
            rows.append((task.name, metric, mean, std))
        }
        print("| features | task | metric | mean +- std (\(seedList.count) seeds) |")
        print("|---|---|---|---|")
        for (name, metric, mean, std) in rows {
            print("| \(label) | \(name) | \(metric) | \(String(format: "%.2f +- %.2f", 100 * mean, 100 * std)) |")
        }
        let average = rows.map(\.2).reduce(0, +) / Double(max(1, rows.count))
        print("| \(label) | average | | \(String(format: "%.2f", 100 * average)) |")
    }
}

enum Progress {
    /// A one-line progress indicator on stderr (only on a terminal).
    static func line(_ what: String) -> (Int, Int) -> Void {
        let tty = isatty(STDERR_FILENO) != 0
        let start = Date()
        return { done, total in
            guard tty else { return }
            let elapsed = Date().timeIntervalSince(start)
            let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
            FileHandle.standardError.write(Data(String(format: "\r%@ %d/%d  ETA %.0fs ", what, done, total, eta).utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        }
    }
}

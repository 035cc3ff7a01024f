// m2d-train probe / eval: linear evaluation (docs/NUMERICS.md §6) and probe heads for POST /classify.
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
    @Option(help: "Output path without extension, e.g. models/m2d-small-debian/heads/keywords.") var out: String
    @Option(help: "Random seed.") var seed: UInt64 = 42
    @Option(help: "Largest number of epochs.") var maxEpochs = 200
    @Option(help: "Early-stopping patience in epochs.") var patience = 20
    @Option(help: "Adam learning rate.") var learningRate: Float = 3e-5
    @OptionGroup var engineOptions: EncoderEngineOptions

    func run() throws {
        let task: ProbeTask
        do { task = try ProbeTask(csv: labels) } catch { throw ValidationError("\(error)") }
        let loaded = try loadModel(model, command: "probe")
        let features = ProbeFeatures.model(AudioEmbedder(weights: loaded.weights, engine: try engineOptions.engine()))
        let path = out.hasSuffix(".safetensors") ? String(out.dropLast(".safetensors".count)) : out
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        let (vectors, failures) = try ProbeRunner.extract(
            task, features: features, cachePath: path + ".embeddings-cache",
            progress: Progress.line("embedding"))
        for (f, e) in failures.sorted(by: { $0.key < $1.key }) {
            FileHandle.standardError.write(Data("skipped \(f): \(e)\n".utf8))
        }
        var config = LinearProbe.Config()
        config.maxEpochs = maxEpochs
        config.patience = patience
        config.learningRate = learningRate
        let result = try ProbeRunner.run(
            task, vectors: vectors, seed: seed, name: URL(fileURLWithPath: path).lastPathComponent, config: config)
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
    @Option(help: "Compare with a baseline instead of the model: 'logmel' (per-bin log-mel mean and std).")
    var baseline: String?
    @Option(help: "Seeds (comma-separated).") var seeds: String = "42,43,44"
    @Option(help: "Folder for embedding caches.") var cache: String = NSTemporaryDirectory() + "m2d-eval-cache"
    @Option(help: "Split to score: test, or valid to choose between models (e.g. checkpoints) without touching test.")
    var split: String = "test"
    @OptionGroup var engineOptions: EncoderEngineOptions
    @Argument(help: "Task CSVs (file,label,split).") var tasks: [String]

    func run() throws {
        guard let scored = EvaluationSplit(rawValue: split) else {
            throw ValidationError("--split must be test or valid")
        }
        let loaded = try loadModel(model, command: "eval")
        let features: ProbeFeatures
        switch baseline {
        case nil: features = .model(AudioEmbedder(weights: loaded.weights, engine: try engineOptions.engine()))
        case "logmel": features = .logMel(ModelFrontEnd(config: loaded.config))
        case let other?: throw ValidationError("unknown --baseline '\(other)'; use logmel")
        }
        let seedList = seeds.split(separator: ",").compactMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
        if seedList.isEmpty { throw ValidationError("--seeds needs at least one integer") }
        let label = baseline.map { "baseline \($0)" } ?? loaded.config.name
        let rows: [EvaluationRow]
        do {
            rows = try LinearEvaluation.run(
                features: features, label: label, tasks: tasks, seeds: seedList, cacheDir: cache, split: scored,
                progress: Progress.line, warn: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        } catch let error as ProbeTask.Failure { throw ValidationError("\(error)") }
        print(LinearEvaluation.table(rows, seeds: seedList.count), terminator: "")
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

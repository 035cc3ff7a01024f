// m2d-train ablate: the seed papers' comparison on this machine. Every variant pre-trains on the
// same data with the same seed and wall-clock (or epoch) budget (each is a PretrainRun made from
// `pretrain --minutes` or `--epochs` flags, in this process, so a rerun resumes an interrupted
// variant and skips finished ones), is exported, and is scored by the same linear evaluation;
// one table, a CSV, a bar chart and the loss curves.
import ArgumentParser
import Foundation
import M2DCheckpoint
import M2DModel
import M2DTensor
import M2DTraining

struct AblateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ablate",
        abstract:
            "Pre-train training variants on the same data, seed and time or epoch budget, evaluate each, and write "
                + "one table and a chart.",
        discussion: """
            Variants: \(Variant.all.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ")).
            Variants share one log-mel cache (OUT/logmel-cache unless --pretrain-args has --cache).
            Writes OUT/<variant>/run (the pre-training run), OUT/<variant>/model, OUT/ablation.md (variant x task,
            mean +- std over the probe seeds, plus the random-init and log-mel baselines), OUT/ablation.csv,
            OUT/ablation.png (bars: tasks left to right, variants in table order, +- one std) and OUT/losses.png.
            """)

    struct Variant {
        let name: String, summary: String, flags: [String]
        static let all = [
            Variant(name: "m2d", summary: "random masking, target encoder on masked patches", flags: []),
            Variant(
                name: "m2d-all-targets", summary: "target encoder on all patches", flags: ["--target-input", "all"]),
            Variant(
                name: "msm-mae", summary: "reconstruct standardized patches, no target network",
                flags: ["--method", "msm-mae"]),
            Variant(
                name: "m2d-inverse-block", summary: "inverse block masking, hint ratio 0",
                flags: ["--masking", "inverse-block", "--hint-ratio", "0"]),
            // Short budgets run few epochs, so the upstream hint schedule (random until epoch 50) would
            // never start: both structured strategies run pure (hint ratio 0) from the first step.
            Variant(
                name: "m2d-dwm", summary: "dispersion-weighted masking, hint ratio 0",
                flags: ["--masking", "dwm", "--hint-ratio", "0"]),
        ]
    }

    @Option(name: .long, parsing: .upToNextOption, help: "Audio folders, CSVs or files for pre-training.") var data:
        [String]
    @Option(name: .long, parsing: .upToNextOption, help: "Task CSVs (file,label,split) for the linear evaluation.")
    var tasks: [String]
    @Option(help: "Output folder.") var out: String
    @Option(help: "Wall-clock budget per variant in minutes (ignored with --epochs).") var minutes: Double = 20
    @Option(
        help: .init(
            "Train every variant for this many epochs instead of a wall-clock budget: the same steps for each, "
                + "whatever the machine's load."))
    var epochs: Int?
    @Option(help: "Comma-separated variants (default: all).") var variants: String = Variant.all.map(\.name).joined(
        separator: ",")
    @Option(help: "Probe seeds (comma-separated).") var seeds: String = "42,43,44"
    @Option(help: "Pre-training seed, the same for every variant.") var seed: UInt64 = 3
    @Option(parsing: .unconditional, help: "More pretrain flags for every variant, as one string.") var pretrainArgs:
        String = "--preset small --batch-size 8 --lr 3e-4 --warmup-epochs 1 --norm-draws 1000"
    /// The evaluation's encoder engine; pre-training takes its own --backend in --pretrain-args.
    @OptionGroup var engineOptions: EncoderEngineOptions

    func run() throws {
        let names = variants.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let chosen = try names.map { name in
            guard let v = Variant.all.first(where: { $0.name == name }) else {
                throw ValidationError(
                    "unknown variant '\(name)'; choose from \(Variant.all.map(\.name).joined(separator: ", "))")
            }
            return v
        }
        let seedList = seeds.split(separator: ",").compactMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
        guard !chosen.isEmpty, !seedList.isEmpty, minutes > 0, (epochs ?? 1) > 0 else {
            throw ValidationError("need variants, --seeds and a positive --minutes or --epochs")
        }
        for task in tasks where !FileManager.default.fileExists(atPath: task) {
            throw ValidationError("no task CSV at \(task)")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let extra = pretrainArgs.split(separator: " ").map(String.init)
        let cacheArgs =
            extra.firstIndex(of: "--cache").flatMap { $0 + 1 < extra.count ? ["--cache", extra[$0 + 1]] : nil }
            ?? ["--cache", out + "/logmel-cache"]
        // On a pretrain command line the last --epochs wins and --minutes replaces --epochs, so either in
        // --pretrain-args would silently replace this budget.
        if epochs != nil, let clash = ["--epochs", "--minutes"].first(where: extra.contains) {
            throw ValidationError("--epochs is the budget, and --pretrain-args has \(clash) too; keep one")
        }
        let budgetArgs = epochs.map { ["--epochs", "\($0)"] } ?? ["--minutes", "\(minutes)"]
        var results: [(String, [EvaluationRow])] = [], losses: [[Double]] = []
        var reference: (config: PretrainConfig, normStats: [Float])?
        // Train every variant first, then evaluate: wall-clock budgets need all runs to
        // share the same machine conditions, and evaluation load must not overlap any of them.
        let stop = StopFlag()
        for v in chosen {
            let runDir = out + "/\(v.name)/run"
            if try PretrainRun.isFinished(runDir) { continue }
            let resume = FileManager.default.fileExists(atPath: PretrainRun.checkpoint(in: runDir))
            say("== \(v.name): \(v.summary)\(resume ? " (resuming)" : "")")
            let args =
                resume
                ? ["--data"] + data + ["--run", runDir, "--resume"] + cacheArgs
                : ["--data"] + data + ["--run", runDir, "--seed", "\(seed)"] + budgetArgs
                    + v.flags + extra
                    + (extra.contains("--cache") ? [] : cacheArgs)
            let run = try PretrainCommand.parse(args).makeRun()
            if try run.run(shouldStop: { stop.isSet }) == .stopped {
                throw ValidationError("interrupted during \(v.name); run the same command again to resume")
            }
        }
        for v in chosen {
            let runDir = out + "/\(v.name)/run", checkpoint = runDir + "/checkpoint-latest.safetensors",
                model = out + "/\(v.name)/model"
            let export = try ExportCommand.parse([runDir, "--out", model, "--name", "ablation-\(v.name)"])
            try export.run()
            let loaded = try ModelDirectory.loadAny(model)
            if reference == nil { reference = (try Pretrainer.savedConfig(checkpoint), loaded.config.normStats) }
            let features = ProbeFeatures.model(
                AudioEmbedder(weights: loaded.weights, engine: try engineOptions.engine()))
            results.append((v.name, try evaluate(features, label: v.name, seeds: seedList)))
            losses.append(lossColumn(runDir + "/metrics.csv"))
        }
        if let (config, stats) = reference {
            let e = config.network.encoder, randomModel = out + "/random-init"
            let initialize = try InitCommand.parse([
                "--out", randomModel, "--name", "ablation-random-init", "--embed-dim", "\(e.embedDim)",
                "--depth", "\(e.depth)", "--heads", "\(e.numHeads)", "--chunk-frames", "\(e.chunkFrames)",
                "--seed", "\(seed)", "--norm-stats", "\(stats[0]),\(stats[1])",
            ])
            try initialize.run()
            let loaded = try ModelDirectory.loadAny(randomModel)
            let features = ProbeFeatures.model(
                AudioEmbedder(weights: loaded.weights, engine: try engineOptions.engine()))
            results.append(("random-init", try evaluate(features, label: "random-init", seeds: seedList)))
            results.append(
                (
                    "log-mel",
                    try evaluate(.logMel(ModelFrontEnd(config: loaded.config)), label: "log-mel", seeds: seedList)
                ))
        }
        try write(results, losses: losses, seeds: seedList.count)
    }

    func evaluate(_ features: ProbeFeatures, label: String, seeds: [UInt64]) throws -> [EvaluationRow] {
        try LinearEvaluation.run(
            features: features, label: label, tasks: tasks, seeds: seeds, cacheDir: out + "/eval-cache",
            progress: Progress.line, warn: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
    }

    func lossColumn(_ csv: String) -> [Double] {
        guard let text = try? String(contentsOfFile: csv, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().compactMap { line in
            line.split(separator: ",").dropFirst(2).first.flatMap { Double($0) }
        }
    }

    func write(_ results: [(String, [EvaluationRow])], losses: [[Double]], seeds: Int) throws {
        let taskNames = results.first?.1.map(\.task) ?? []
        var md =
            "| variant | " + taskNames.joined(separator: " | ") + " | average |\n|---|"
            + String(repeating: "---|", count: taskNames.count + 1) + "\n"
        var csv = "variant,task,metric,mean,std,scores\n"
        for (name, rows) in results {
            md +=
                "| \(name) | "
                + rows.map { String(format: "%.2f +- %.2f", 100 * $0.mean, 100 * $0.std) }.joined(separator: " | ")
                + String(format: " | %.2f |\n", 100 * LinearEvaluation.average(rows))
            for r in rows {
                let scores = r.scores.map { "\($0)" }.joined(separator: ";")
                csv += "\(name),\(r.task),\(r.metric),\(r.mean),\(r.std),\(scores)\n"
            }
        }
        md +=
            "\nTest accuracy (%) of linear probes, mean +- std over \(seeds) probe seeds; "
                + (epochs.map { "\($0) epoch\($0 == 1 ? "" : "s")" } ?? "\(minutes) minutes") + " of "
                + "pre-training per variant.\n"
        try AtomicFile.write(Data(md.utf8), to: out + "/ablation.md")
        try AtomicFile.write(Data(csv.utf8), to: out + "/ablation.csv")
        let groups = taskNames.indices.map { t in results.map { (mean: $0.1[t].mean, std: $0.1[t].std) } }
        try AtomicFile.write(ResultChart.png(groups: groups), to: out + "/ablation.png")
        try AtomicFile.write(LossPlot.png(series: losses), to: out + "/losses.png")
        print(md, terminator: "")
        say("wrote \(out)/ablation.md, ablation.csv, ablation.png, losses.png")
    }
}

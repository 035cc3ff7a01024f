// PretrainRun: one pre-training run in its directory. It owns the loop around the Pretrainer,
// metrics.csv (one row per step, appended as it goes), the checkpoints (checkpoint-latest written
// atomically every --save-every steps, at the end and on a stop; snapshots kept as hard links), the
// loss plot and resume. `m2d-train pretrain` and `ablate` run it in-process. Data-parallel, every rank runs
// the loop and only rank 0 writes (checkpoints, metrics.csv, loss.png, the log); a stop on any rank stops all
// of them at the same step.
import Foundation
import M2DCheckpoint
import M2DModel
import M2DTensor

public struct PretrainRunOptions: Sendable {
    /// Write checkpoint-latest every N steps.
    public var saveEvery = 200
    /// Also keep checkpoint-step-NNNNNN every N steps (step 0 is the random init).
    public var keepEvery: Int?
    /// Log every N steps.
    public var logEvery = 10
    /// Stop after this many steps of this invocation.
    public var maxSteps: Int?

    public init() {}
}

public enum PretrainRunError: Error, CustomStringConvertible {
    case alreadyExists(String)
    case nothingToResume(String)
    case budgetTooShort(minutes: Double, steps: Int, stepSeconds: Double, stepsPerEpoch: Int)

    public var description: String {
        switch self {
        case let .alreadyExists(dir):
            "\(dir) already holds a run; pass --resume to continue it or choose another --run"
        case let .nothingToResume(path): "--resume: no \(path)"
        case let .budgetTooShort(minutes, steps, stepSeconds, stepsPerEpoch):
            String(
                format: "--minutes %g fits about %d steps (%.2f s each), less than one epoch of %d steps: "
                    + "give more minutes or fewer files (e.g. a CSV of a subset)",
                minutes, steps, stepSeconds, stepsPerEpoch)
        }
    }
}

public final class PretrainRun {
    public enum Outcome: Sendable, Equatable { case finished, stopped, stepLimit }

    public let directory: String
    public let trainer: Pretrainer
    public let options: PretrainRunOptions
    private var losses: [Double]
    private let log: (String) -> Void

    public static func checkpoint(in directory: String) -> String { directory + "/checkpoint-latest.safetensors" }
    public var checkpointPath: String { Self.checkpoint(in: directory) }
    var metricsPath: String { directory + "/metrics.csv" }

    /// A new run in `directory`, or with `resume` the run already there (its saved config wins).
    /// `normStats` skips drawing them again when the caller has this run's.
    public init(
        directory: String, config: PretrainConfig, data: PretrainData, engine: GEMMEngine,
        normStats: (mean: Float, std: Float)? = nil, resume: Bool, options: PretrainRunOptions = PretrainRunOptions(),
        collective: any Collective = SingleProcess(), log: @escaping (String) -> Void
    ) throws {
        self.directory = directory
        self.options = options
        self.log = collective.isLeader ? log : { _ in }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let checkpoint = Self.checkpoint(in: directory)
        let exists = FileManager.default.fileExists(atPath: checkpoint)
        if resume && !exists { throw PretrainRunError.nothingToResume(checkpoint) }
        if !resume && exists { throw PretrainRunError.alreadyExists(directory) }
        trainer = Pretrainer(
            config: config, data: data, normStats: normStats, engine: engine, collective: collective)
        if resume { try trainer.restore(from: checkpoint) }
        losses = Self.losses(directory + "/metrics.csv", upTo: trainer.step)
    }

    /// The saved config of the run in `directory`.
    public static func savedConfig(in directory: String) throws -> PretrainConfig {
        try Pretrainer.savedConfig(checkpoint(in: directory))
    }

    /// True when the run in `directory` reached its last step.
    public static func isFinished(_ directory: String) throws -> Bool {
        let path = checkpoint(in: directory)
        guard FileManager.default.fileExists(atPath: path) else { return false }
        let file = try SafeTensorsFile(path: path)
        let config = try Pretrainer.savedConfig(path)
        guard let step = file.metadata["step"].flatMap(Int.init), let files = file.metadata["files"].flatMap(Int.init)
        else { return false }
        return step >= max(1, max(files, config.batchSize) / config.batchSize) * config.epochs
    }

    /// Epochs that fit `minutes`: times a few steps of a throwaway trainer (the real one starts from
    /// the same seed, so the budget changes only the schedule's length); also returns the
    /// normalization statistics it drew, which the real run reuses.
    public static func budgetEpochs(
        _ config: PretrainConfig, _ data: PretrainData, minutes: Double, engine: GEMMEngine, ranks: Int = 1,
        log: (String) -> Void
    ) throws -> (epochs: Int, normStats: (mean: Float, std: Float)) {
        let probe = Pretrainer(config: config, data: data, engine: engine)
        _ = probe.trainStep()
        let trials = 3, start = Date()
        for _ in 0..<trials { _ = probe.trainStep() }
        // One process times the whole global batch; N ranks share it (their all-reduce is a few percent more,
        // docs/DATA-PARALLEL.md).
        let stepSeconds = Date().timeIntervalSince(start) / Double(trials) / Double(max(1, ranks))
        let steps = Int(minutes * 60 / stepSeconds)
        guard steps >= probe.stepsPerEpoch else {
            throw PretrainRunError.budgetTooShort(
                minutes: minutes, steps: steps, stepSeconds: stepSeconds, stepsPerEpoch: probe.stepsPerEpoch)
        }
        let epochs = steps / probe.stepsPerEpoch
        log(
            String(
                format: "budget %.1f min: %.2f s/step, %d steps/epoch -> %d epochs", minutes, stepSeconds,
                probe.stepsPerEpoch, epochs))
        return (epochs, probe.normStats)
    }

    /// Trains until the last step, `options.maxSteps`, or `shouldStop` (checked between steps); the
    /// state is saved whichever ends it.
    public func run(shouldStop: () -> Bool = { false }) throws -> Outcome {
        let leader = trainer.collective.isLeader
        // Every rank has checked that no run exists before rank 0 writes the first checkpoint.
        trainer.collective.barrier()
        let metrics = leader ? try openMetrics() : nil
        defer { try? metrics?.close() }
        if leader && options.keepEvery != nil && trainer.step == 0 {
            // Step 0 is the run's random initialization with its norm stats: the baseline to beat.
            try trainer.save(to: checkpointPath)
            try keepSnapshot(step: 0)
        }
        let start = Date(), startStep = trainer.step, total = trainer.totalSteps, batch = trainer.config.batchSize
        var window: [Double] = []
        var outcome = Outcome.finished
        while trainer.step < total {
            if trainer.collective.any(shouldStop()) { outcome = .stopped; break }
            if let maxSteps = options.maxSteps, trainer.step - startStep >= maxSteps { outcome = .stepLimit; break }
            let r = trainer.trainStep()
            losses.append(r.loss)
            window.append(r.loss)
            try metrics?.write(
                contentsOf: Data(
                    String(
                        format: "%d,%d,%.6f,%.8f,%.8f,%.6f,%.3f,%.4f\n", r.step, r.epoch,
                        r.loss, r.lr, r.tau, r.gradNorm, r.seconds, r.commSeconds
                    ).utf8))
            if r.step % options.logEvery == 0 || r.step == total {
                let elapsed = Date().timeIntervalSince(start), done = trainer.step - startStep
                let eta = Double(total - trainer.step) * elapsed / Double(max(done, 1))
                log(
                    String(
                        format: "epoch %d step %d/%d loss %.4f lr %.2e tau %.6f %.1f clips/s ETA %@", r.epoch,
                        r.step, total, window.reduce(0, +) / Double(window.count), r.lr, r.tau,
                        Double(done * batch) / max(elapsed, 1e-9), Self.clock(eta)))
                window = []
            }
            let keep = options.keepEvery.map { r.step % $0 == 0 } ?? false
            if leader && (r.step % options.saveEvery == 0 || keep) { try save() }
            if leader && keep { try keepSnapshot(step: r.step) }
        }
        if leader { try save() }
        log(
            outcome == .stopped
                ? "interrupted: saved \(checkpointPath) at step \(trainer.step)"
                : "saved \(checkpointPath) at step \(trainer.step)")
        return outcome
    }

    /// checkpoint-latest (atomic) and the loss plot from the losses in memory.
    public func save() throws {
        try trainer.save(to: checkpointPath)
        try AtomicFile.write(LossPlot.png(values: losses), to: directory + "/loss.png")
    }

    private func openMetrics() throws -> FileHandle {
        let header = "step,epoch,loss,lr,tau,grad_norm,seconds,comm_seconds\n"
        if !FileManager.default.fileExists(atPath: metricsPath) {
            try Data(header.utf8).write(to: URL(fileURLWithPath: metricsPath))
        } else if let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) {
            // Rows past the checkpoint (written before a crash) are stepped again: drop them.
            let kept = text.split(separator: "\n").dropFirst().filter { line in
                line.split(separator: ",").first.flatMap { Int($0) }.map { $0 <= trainer.step } ?? false
            }
            try AtomicFile.write(Data((header + kept.map { $0 + "\n" }.joined()).utf8), to: metricsPath)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: metricsPath))
        try handle.seekToEnd()
        return handle
    }

    /// Saves replace checkpoint-latest by rename, so a hard link keeps this step's file intact.
    private func keepSnapshot(step: Int) throws {
        let snapshot = directory + String(format: "/checkpoint-step-%06d.safetensors", step)
        try? FileManager.default.removeItem(atPath: snapshot)
        do { try FileManager.default.linkItem(atPath: checkpointPath, toPath: snapshot) } catch {
            try FileManager.default.copyItem(atPath: checkpointPath, toPath: snapshot)
        }
    }

    /// The losses of metrics.csv up to `step` (a resumed run continues the curve).
    static func losses(_ csv: String, upTo step: Int) -> [Double] {
        guard step > 0, let text = try? String(contentsOfFile: csv, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().compactMap { line -> Double? in
            let fields = line.split(separator: ",")
            guard fields.count > 2, let s = Int(fields[0]), s <= step else { return nil }
            return Double(fields[2])
        }
    }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600
            ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}

// m2d-train pretrain / export.
import ArgumentParser
import Foundation
import M2DAudio
import M2DCheckpoint
import M2DModel
import M2DTensor
import M2DTraining

extension PretrainMethod: ExpressibleByArgument {}

extension TargetInput: ExpressibleByArgument {}
extension MaskingStrategy: ExpressibleByArgument {}

struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "M2D self-supervised pre-training (online encoder + predictor + EMA target on masked patches).",
        discussion: """
            Writes into --run: checkpoint-latest.safetensors (atomic, every --save-every steps, at the end \
            and on Ctrl-C/SIGTERM), checkpoint-step-NNNNNN.safetensors with --keep-every (step 0 = the random \
            init), metrics.csv (step, loss, lr, tau, grad norm, seconds; rows past a crash's last checkpoint \
            are dropped on resume), loss.png and the log-mel cache. --resume continues the same schedule, \
            masks and data order (the same result as an uninterrupted run).

            Data-parallel on Open MPI: `mpirun -np N m2d-train pretrain ...` (same flags). --batch-size stays \
            the global batch (a multiple of N); each rank trains on its slice of every batch and the gradients \
            are all-reduced, so the run matches a single process. Only rank 0 writes; resume with the same N.
            """)

    @Option(name: .long, parsing: .upToNextOption, help: "Audio folders, CSVs (file_name or file column) or files.")
    var data: [String]
    @Option(name: .customLong("run"), help: "Run directory.") var runDir: String
    @Option(
        help:
            "Preset: m2d_vit_base (768/12/12, predictor 512/8/16), small (768/4/12, 256/2/8) or tiny (64/2/2, 32/1/2).")
    var preset: String = "small"
    @Option(help: "Encoder width (overrides the preset).") var embedDim: Int?
    @Option(help: "Encoder depth.") var depth: Int?
    @Option(help: "Encoder heads.") var heads: Int?
    @Option(help: "Predictor width.") var decoderDim: Int?
    @Option(help: "Predictor depth.") var decoderDepth: Int?
    @Option(help: "Predictor heads.") var decoderHeads: Int?
    @Option(help: "Frames per crop (input_size[1]).") var frames: Int = 608
    @Option(help: "Mask ratio.") var maskRatio: Double = 0.7
    @Option(
        help:
            .init("Method: m2d (EMA target features) or msm-mae (reconstruct standardized log-mel patches; predictor "
                + "384/4/6 "
                + "unless set).")
    )
    var method: PretrainMethod = .m2d
    @Option(
        help:
            .init("M2D target encoder input: masked (M2D) or all (the conventional data2vec-style setting; loss still "
                + "on "
                + "masked patches).")
    )
    var targetInput: TargetInput = .masked
    @Option(help: "Masking: random, inverse-block (data2vec 2.0 IBM) or dwm (dispersion-weighted).") var masking:
        MaskingStrategy = .random
    @Option(help: "Hint schedule exponent k: h(e) = 1 - (e/E)^k from --masking-start-epoch on.") var maskingHintK:
        Double = 2
    @Option(help: "Epochs of random masking before inverse-block or dwm starts.") var maskingStartEpoch: Int = 50
    @Option(help: "A constant hint ratio in [0, 1] instead of the schedule (0 = pure strategy, 1 = random).")
    var hintRatio: Double?
    @Option(
        help:
            .init("Wall-clock budget in minutes: times a few steps, then sets --epochs so the run fits (recorded for "
                + "--resume).")
    )
    var minutes: Double?
    @Option(help: "Epochs.") var epochs: Int = 100
    @Option(help: "Batch size.") var batchSize: Int = 16
    @Option(help: "Peak learning rate (default 3e-4 * batch / 256, as the official blr).") var lr: Double?
    @Option(help: "Warm-up epochs.") var warmupEpochs: Double = 5
    @Option(help: "Clip the global gradient norm (official V2: 3.0).") var clipGrad: Double?
    @Option(help: "EMA decay of the target encoder at the first step (official 0.99995; lower for short runs).")
    var emaStart: Double = 0.99995
    @Option(help: "EMA decay at the last step, reached linearly (official 0.99999).") var emaEnd: Double = 0.99999
    @Option(help: "Random seed.") var seed: UInt64 = 3
    @Option(help: "Save a checkpoint every N steps.") var saveEvery: Int = 200
    @Option(
        help:
            .init("Also keep a snapshot checkpoint-step-NNNNNN.safetensors every N steps (a hard link, no extra disk), "
                + "e.g. "
                + "to pick a checkpoint with a validation probe.")
    )
    var keepEvery: Int?
    @Option(help: "Print and log every N steps.") var logEvery: Int = 10
    @Option(help: "Random crops for the normalization statistics.") var normDraws: Int = 5000
    @Option(help: "Stop after this many steps in this invocation (for staged runs).") var maxSteps: Int?
    @Option(help: "Log-mel cache folder (default RUN/logmel-cache; runs on the same audio can share one).") var cache:
        String?
    @Flag(help: "Continue from RUN/checkpoint-latest.safetensors.") var resume = false
    @Option(
        help: .init(
            "Under mpirun: sum each part of the gradients while the backward pass goes on (on), or after it (off). "
                + "auto: on when every host runs one rank (the sums then wait on the network); off when ranks share "
                + "a host, where the sum is memory traffic that competes with the backward for the same cores."))
    var overlap: OverlapMode = .auto
    @Option(help: "GEMM backend for the training products: auto (oneDNN when libdnnl loads), onednn or openblas.")
    var backend: GEMMEngine.Backend = .auto

    func network() -> M2DNetworkConfig {
        let (d, dp, h, dd, ddp, dh): (Int, Int, Int, Int, Int, Int) =
            switch preset {
            case "m2d_vit_base": (768, 12, 12, 512, 8, 16)
            case "tiny": (64, 2, 2, 32, 1, 2)
            default: (768, 4, 12, 256, 2, 8)
            }
        // The M2D paper's MSM-MAE decoder: 4 layers, width 384, 6 heads.
        let (pd, pdp, ph) = method == .msmMAE && preset != "tiny" ? (384, 4, 6) : (dd, ddp, dh)
        let encoder = ModelConfig(
            name: "m2d_vit-80x\(frames)p16x16", embedDim: embedDim ?? d, depth: depth ?? dp, numHeads: heads ?? h,
            inputSize: [80, frames])
        return M2DNetworkConfig(
            encoder: encoder, decoderDim: decoderDim ?? pd, decoderDepth: decoderDepth ?? pdp,
            decoderHeads: decoderHeads ?? ph, maskRatio: maskRatio, method: method, targetInput: targetInput)
    }

    /// The run these flags describe: config, data and directory (a resumed run keeps its saved config).
    func makeRun(collective: any Collective = SingleProcess()) throws -> PretrainRun {
        guard ["m2d_vit_base", "small", "tiny"].contains(preset) else {
            throw ValidationError("--preset must be m2d_vit_base, small or tiny")
        }
        var config = PretrainConfig(network: network())
        do { try config.network.encoder.validate() } catch { throw ValidationError("\(error)") }
        config.epochs = epochs
        config.batchSize = batchSize
        config.learningRate = lr ?? 3e-4 * Double(batchSize) / 256
        config.warmupEpochs = warmupEpochs
        config.clipGrad = clipGrad
        guard (0...1).contains(emaStart), (0...1).contains(emaEnd) else {
            throw ValidationError("--ema-start and --ema-end must lie in [0, 1]")
        }
        config.emaStart = emaStart
        config.emaEnd = emaEnd
        config.seed = seed
        config.normDraws = normDraws
        if method == .msmMAE && targetInput == .all {
            throw ValidationError("--target-input applies to --method m2d only (MSM-MAE has no target encoder)")
        }
        if let hintRatio, !(0...1).contains(hintRatio) { throw ValidationError("--hint-ratio must lie in [0, 1]") }
        guard maskingHintK > 0, maskingStartEpoch >= 0 else {
            throw ValidationError("--masking-hint-k must be > 0 and --masking-start-epoch >= 0")
        }
        config.masking = MaskingConfig(
            strategy: masking, hintK: maskingHintK, startEpoch: maskingStartEpoch, constantHintRatio: hintRatio)
        if let minutes, minutes <= 0 { throw ValidationError("--minutes must be positive") }
        guard saveEvery > 0, logEvery > 0, (keepEvery ?? 1) > 0 else {
            throw ValidationError("--save-every, --log-every and --keep-every must be positive")
        }
        if resume {
            do { config = try PretrainRun.savedConfig(in: runDir) } catch {
                throw ValidationError("--resume: no run to continue in \(runDir) (\(error))")
            }
        } else if FileManager.default.fileExists(atPath: PretrainRun.checkpoint(in: runDir)) {
            throw ValidationError(PretrainRunError.alreadyExists(runDir).description)
        }
        let engine: GEMMEngine
        do { engine = try GEMMEngine(backend: backend, weightsChange: true) } catch {
            throw ValidationError("\(error)")
        }
        guard config.batchSize % collective.size == 0 else {
            throw ValidationError(
                "--batch-size \(config.batchSize) (the global batch) does not split over \(collective.size) ranks; "
                    + "use a multiple of \(collective.size)")
        }
        // Rank 0 fills the log-mel cache; the other ranks then read it instead of writing it at the same time.
        if !collective.isLeader { collective.barrier() }
        let audio = try loadAudio(config, writeReport: collective.isLeader)
        if collective.isLeader { collective.barrier() }
        try checkAgreement(config, audio, collective)
        var knownStats: (mean: Float, std: Float)?
        if let minutes, !resume {
            // Rank 0 times the steps alone (the others wait in the broadcast); a budget error there aborts all.
            if collective.isLeader {
                do {
                    (config.epochs, knownStats) = try PretrainRun.budgetEpochs(
                        config, audio, minutes: minutes, engine: engine, ranks: collective.size, log: say)
                } catch let error as PretrainRunError { throw ValidationError(error.description) }
            }
            config.epochs = collective.broadcast(config.epochs)
        }
        var options = PretrainRunOptions()
        options.saveEvery = saveEvery
        options.keepEvery = keepEvery
        options.logEvery = logEvery
        options.maxSteps = maxSteps
        let run = try PretrainRun(
            directory: runDir, config: config, data: audio, engine: engine, normStats: knownStats,
            resume: resume, options: options, collective: collective, log: say)
        let t = run.trainer
        t.overlapsReduction = overlap.resolved(ranksPerHost: ranksPerHost(collective))
        let share = config.batchSize / collective.size
        let volume = String(format: "%.1f MB", Double(t.network.grads.count * 4) / 1e6)
        let ranks =
            collective.size == 1
            ? "1 process"
            : "\(collective.size) ranks (MPI), \(share) clips per rank per step, all-reduce of \(volume) per step "
                + "(overlapped with the backward: \(overlap.resolved(ranksPerHost: ranksPerHost(collective))))"
        if collective.isLeader {
            say(
                "run \(runDir): \(config.network.variantName), GEMMs on \(engine.summary), masking "
                    + "\(config.masking.strategy.rawValue), \(audio.files.count) clips, "
                    + "\(t.stepsPerEpoch) steps/epoch, \(t.totalSteps) steps, \(t.network.grads.count) trainable "
                    + "parameters, norm stats \(t.normStats), "
                    + "resuming at step \(t.step), \(ranks)")
        }
        return run
    }

    /// Decodes (or reads from the cache) every file; unreadable ones are listed in RUN/skipped.txt.
    func loadAudio(_ config: PretrainConfig, writeReport: Bool = true) throws -> PretrainData {
        let files = try PretrainData.list(data)
        if files.isEmpty { throw ValidationError("no audio files in \(data.joined(separator: " "))") }
        try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
        let audio = try PretrainData(
            files: files, frontEnd: config.network.encoder.frontEnd, cacheDir: cache ?? runDir + "/logmel-cache",
            progress: writeReport ? Progress.line("decoding") : { _, _ in })
        for s in audio.skipped.prefix(20) where writeReport {
            FileHandle.standardError.write(Data("skipped \(s.file): \(s.reason)\n".utf8))
        }
        if !audio.skipped.isEmpty && writeReport {
            try Data(audio.skipped.map { "\($0.file)\t\($0.reason)" }.joined(separator: "\n").utf8).write(
                to: URL(fileURLWithPath: runDir + "/skipped.txt"))
            FileHandle.standardError.write(
                Data("\(audio.skipped.count) unreadable files skipped (listed in \(runDir)/skipped.txt)\n".utf8))
        }
        if audio.files.isEmpty { throw ValidationError("none of the \(files.count) files could be decoded") }
        return audio
    }
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model directory (config.json + encoder-only model.safetensors) from a run or a checkpoint.")

    @Argument(help: "A run directory or a checkpoint .safetensors.") var source: String
    @Option(help: "Output model directory.") var out: String
    @Option(help: "Model name (default: from the run config).") var name: String?
    @Option(help: "Weight dtype: F32, F16 or BF16.") var dtype: String = "F32"

    func run() throws {
        guard let type = DType(rawValue: dtype.uppercased()) else {
            throw ValidationError("--dtype must be F32, F16 or BF16")
        }
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: source, isDirectory: &isDir)
        let checkpoint = isDir.boolValue ? source + "/checkpoint-latest.safetensors" : source
        let config = try Pretrainer.savedConfig(checkpoint)
        let file = try SafeTensorsFile(path: checkpoint)
        var encoder = config.network.encoder
        let stats = try file.array("norm_stats")
        encoder.normStats = stats
        encoder.name = name ?? encoder.name
        encoder.provenance = .object([
            "trained_by": .string("m2d-train pretrain"), "checkpoint": .string(checkpoint),
            "step": .string(file.metadata["step"] ?? "?"), "trained": .bool(true),
        ])
        let weights: EncoderWeights
        do { weights = try EncoderWeights(config: encoder, file: file) } catch { throw ValidationError("\(error)") }
        try ModelDirectory.write(weights, to: out, dtype: type)
        print("wrote \(out) (\(encoder.name), step \(file.metadata["step"] ?? "?"), norm stats \(stats))")
    }
}

/// Writes a line to stdout at once (progress must reach a log file as it happens, not when a
/// buffer fills).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

/// Set by SIGINT/SIGTERM; the loop saves and exits at the end of the current step.
final class StopFlag: @unchecked Sendable {
    // SAFETY: a single Bool written by the signal queue and read by the loop, guarded by a lock.
    private let lock = NSLock()
    private var value = false
    private var sources: [any DispatchSourceSignal] = []

    init() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in self?.lock.withLock { self?.value = true } }
            source.resume()
            sources.append(source)
        }
    }

    var isSet: Bool { lock.withLock { value } }
}

extension GEMMEngine.Backend: ExpressibleByArgument {}

// m2d-embed: the serving pipeline offline over files and folders (decode -> 16 kHz mono -> log-mel
// -> ViT -> clip / frame embeddings), written as JSON lines or .npy.
import ArgumentParser
import Foundation
import M2DAudio
import M2DModel
import M2DText
import M2DTensor

@main
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "m2d-embed",
        abstract: "Compute M2D audio embeddings for files and folders.",
        discussion: """
            Folders are walked recursively in sorted order (audio extensions only). Output is one JSON
            line per input on stdout, in input order: {"file": ..., "duration_seconds": ..., "embedding":
            [...]}; with --frames
            also "frames" and "timestamps_ms". With --format npy --out X.npy, writes an (N, E) float32
            array and X.files.txt (one path per row). A file that fails is reported on stderr and the
            exit status is 1; the other files are still embedded.

            With --text (repeatable) or --text-file (one text per line), embeds texts with the model's
            M2D-CLAP text encoder (<model>/text/, from m2d-train import) instead: {"text": ..., "embedding":
            [...]} per line, or with --format npy an (N, E) array and X.texts.txt.
            """)

    @Option(
        name: .long,
        help: "Model directory (config.json + model.safetensors) or an official M2D .pth checkpoint. Env: M2D_MODEL.")
    var model: String = ProcessInfo.processInfo.environment["M2D_MODEL"] ?? "models/m2d-small-debian"

    @Flag(name: .long, help: "Also output frame embeddings and their timestamps.")
    var frames = false

    @Option(name: .long, help: "Output format: jsonl or npy.")
    var format: OutputFormat = .jsonl

    @Option(name: .long, help: "Output file (default for jsonl: stdout; required for npy). Written atomically.")
    var out: String?

    @Option(name: .long, help: "Refuse audio longer than this many seconds.")
    var maxAudioSeconds: Double = 3600

    @Option(name: .long, help: "Most chunks per encoder call.")
    var batchChunks: Int = 8

    @Option(name: .long, help: "BLAS threads (default: all cores).")
    var threads: Int?

    @Option(name: .long, help: "GEMM backend: auto (oneDNN when libdnnl loads), onednn or openblas.")
    var backend: GEMMEngine.Backend = .auto

    @Option(name: .long, help: "Precision of the GEMMs: fp32, bf16 or int8 (bf16 and int8 need onednn; docs/INT8.md).")
    var precision: GEMMEngine.Precision = .fp32

    @Option(
        name: .long,
        help: """
            Embed only shard I of N (0 <= I < N): the inputs whose position in the sorted walk is I modulo \
            N, so N processes with I = 0...N-1 split any list exactly and the same way every time.
            """)
    var shard: Shard?

    @Option(name: .long, help: "A text to embed with the model's M2D-CLAP text encoder (repeatable); no audio then.")
    var text: [String] = []

    @Option(name: .long, help: "A UTF-8 file of texts to embed, one per line (empty lines skipped).")
    var textFile: String?

    @Flag(name: .long, help: "Cut texts longer than the text encoder's positions instead of failing.")
    var truncate = false

    @Argument(help: "Audio files or folders.")
    var inputs: [String] = []

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case jsonl, npy }
}

/// `--shard I/N`.
struct Shard: ExpressibleByArgument, CustomStringConvertible {
    let index, count: Int

    init?(argument: String) {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else {
            return nil
        }
        index = i
        count = n
    }

    var description: String { "\(index)/\(count)" }
}

extension GEMMEngine.Backend: ExpressibleByArgument {}
extension GEMMEngine.Precision: ExpressibleByArgument {}

extension EmbedCommand {

    func validate() throws {
        if format == .npy && out == nil { throw ValidationError("--format npy needs --out PATH.npy") }
        if batchChunks < 1 { throw ValidationError("--batch-chunks must be at least 1") }
        if maxAudioSeconds <= 0 { throw ValidationError("--max-audio-seconds must be positive") }
        let texts = !text.isEmpty || textFile != nil
        if texts && !inputs.isEmpty {
            throw ValidationError("give audio inputs or texts (--text, --text-file), not both")
        }
        if !texts && inputs.isEmpty { throw ValidationError("give audio files or folders to embed (or --text TEXT)") }
        if texts && frames { throw ValidationError("--frames is for audio; a text has one embedding") }
    }

    func run() throws {
        if let threads { BLAS.threads = threads }
        if !text.isEmpty || textFile != nil { return try runTexts() }
        let engine: GEMMEngine
        // The one encoder of this process: oneDNN takes each weight over while it loads.
        do { engine = try GEMMEngine(backend: backend, precision: precision, ownsWeights: true) } catch {
            throw ValidationError("\(error)")
        }
        engine.leaveOpenBLASToTheFrontEnd()
        let loaded: LoadedModel
        do { loaded = try ModelDirectory.loadAny(model, engine: engine) } catch {
            // A missing path is a usage error; a file that exists but is damaged or hostile is not.
            guard FileManager.default.fileExists(atPath: model) else {
                throw ValidationError("\(error)\nPass --model DIR or set M2D_MODEL.")
            }
            FileHandle.standardError.write(Data("m2d-embed: cannot load the model \(model): \(error)\n".utf8))
            throw ExitCode(1)
        }
        let embedder = AudioEmbedder(weights: loaded.weights, maxBatchChunks: batchChunks, engine: engine)
        let walked = try InputWalker.files(inputs)
        if walked.isEmpty { throw ValidationError("no audio files found in \(inputs.joined(separator: " "))") }
        let files =
            shard.map { s in walked.enumerated().filter { $0.offset % s.count == s.index }.map(\.element) }
            ?? walked
        if files.isEmpty {
            FileHandle.standardError.write(Data("m2d-embed: shard \(shard!) of \(walked.count) inputs is empty\n".utf8))
        }
        var sink = try OutputSink(format: format, out: out, frames: frames)
        let progress = ProgressBar(total: files.count)
        var failures = 0
        for (i, file) in files.enumerated() {
            do {
                let bytes = try InputWalker.read(file)
                let audio = try AudioPipeline.prepare(
                    bytes, sampleRate: loaded.config.sampleRate, maxSeconds: maxAudioSeconds)
                let embedding = try embedder.embed(audio.samples, keepFrames: frames)
                try sink.write(file: file, embedding: embedding)
            } catch {
                failures += 1
                progress.clearLine()
                FileHandle.standardError.write(Data("m2d-embed: \(file): \(error)\n".utf8))
            }
            progress.update(done: i + 1)
        }
        progress.finish()
        try sink.close()
        if failures > 0 {
            FileHandle.standardError.write(Data("m2d-embed: \(failures) of \(files.count) files failed\n".utf8))
            throw ExitCode(1)
        }
    }
}

// m2d-bench compare: a 10 s clip (two chunks, 608 + 400 frames) at batch 1 and 8 through our
// encoder for every backend and precision, each configuration in its own process so its peak RSS
// is its own, next to the PyTorch reference (tools/reference/bench_torch.py, the same ViT as timm builds it,
// same threads, fp32 and bf16 autocast) measured in the same run; plus process start to first
// embedding of m2d-embed on a ViT-Base model directory.
import ArgumentParser
import Foundation
import M2DAudio
import M2DCheckpoint
import M2DModel
import M2DTensor

struct CompareBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare", abstract: "Our encoder per backend/precision vs PyTorch on a 10 s clip.")

    @Option(help: "Python with torch (default $M2D_TORCH_PYTHON; scripts/peers-venv.sh prints one; none: skipped).")
    var python =
        ProcessInfo.processInfo.environment["M2D_TORCH_PYTHON"] ?? ""
    @Option(help: "Timed repetitions (best is reported).") var repeats = 3
    @Option(help: "Encoder depth (ViT-Base has 12).") var depth = 12
    @Option(help: "Threads for us and for PyTorch.") var threads = 2

    struct Row: Decodable { let b1: Double; let b8: Double; let rssMiB: Double; let engine: String }

    func run() throws {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // One random ViT-Base F32 model directory for every row and the start-up time: each
        // configuration loads it as m2d-server and m2d-embed load theirs, so peak RSS includes loading.
        let dir = NSTemporaryDirectory() + "m2d-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = ModelConfig(name: "bench-vit-base-80x608p16x16", embedDim: 768, depth: depth, numHeads: 12)
        try ModelDirectory.write(EncoderWeights.random(config: config, seed: 1), to: dir + "/model")
        var rows: [(String, Row?)] = []
        let configurations = [("openblas", "fp32"), ("onednn", "fp32"), ("onednn", "bf16"), ("onednn", "int8")]
        for (backend, precision) in configurations {
            let out = try capture(
                me.path,
                [
                    "clip", "--model", dir + "/model", "--backend", backend, "--precision", precision,
                    "--repeats", "\(repeats)", "--threads", "\(threads)",
                ])
            rows.append(
                ("\(backend) \(precision)", out.flatMap { try? JSONDecoder().decode(Row.self, from: Data($0.utf8)) }))
        }
        var torch: [String: Any] = [:]
        if FileManager.default.isExecutableFile(atPath: python) {
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("tools/reference/bench_torch.py").path
            if let text = try capture(
                python, [script], env: ["THREADS": "\(threads)", "REPEATS": "\(repeats)", "DEPTH": "\(depth)"]),
                let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            {
                torch = json
            }
        }
        let startup = try startupTime(me: me, dir: dir)
        let tf32b1 = torch["fp32_b1_s"] as? Double, tf32b8 = torch["fp32_b8_s"] as? Double
        let tbf16b1 = torch["bf16_b1_s"] as? Double, tbf16b8 = torch["bf16_b8_s"] as? Double
        print(
            "10 s clip (chunks 608 + 400 frames), ViT-Base depth \(depth), \(threads) threads; OpenBLAS core "
                + "\(BLAS.coreName)"
        )
        print(
            "PyTorch \(torch["torch"] as? String ?? "not measured") (cpu capability "
                + "\(torch["cpu_capability"] as? String ?? "?")): "
                + "fp32 b1 \(ms(tf32b1)) ms, b8 \(ms(tf32b8)) ms; bf16 autocast b1 \(ms(tbf16b1)) ms, b8 "
                + "\(ms(tbf16b8)) ms; peak RSS \(f(torch["peak_rss_mib"] as? Double)) MiB"
        )
        print("")
        print("| ours | engine | b1 latency ms | b1 vs torch | b8 ms (clips/s) | b8 vs torch | peak RSS MiB | target |")
        print("|---|---|---|---|---|---|---|---|")
        for (name, row) in rows {
            guard let row else { print("| \(name) | unavailable | | | | | | |"); continue }
            let bf16 = name.hasSuffix("bf16")
            let ref1 = bf16 ? tbf16b1 : tf32b1, ref8 = bf16 ? tbf16b8 : tf32b8
            let r1 = ref1.map { $0 / row.b1 }, r8 = ref8.map { $0 / row.b8 }
            let target = name == "openblas fp32" ? 1.0 : bf16 ? 3.0 : 2.0
            let pass = (r1 ?? 0) >= target && (r8 ?? 0) >= target
            print(
                "| \(name) | \(row.engine) | \(ms(row.b1)) | \(x(r1)) | \(ms(row.b8)) (\(f(8 / row.b8))) | \(x(r8)) | "
                    + "\(f(row.rssMiB)) | >= \(f(target))x: \(ref1 == nil ? "n/a" : pass ? "PASS" : "FAIL") |"
            )
        }
        print("")
        print("process start to first embedding (m2d-embed, ViT-Base F32 model directory, 10 s WAV): \(ms(startup)) ms")
    }

    func ms(_ s: Double?) -> String { s.map { String(format: "%.0f", $0 * 1000) } ?? "-" }
    func f(_ v: Double?) -> String { v.map { String(format: "%.1f", $0) } ?? "-" }
    func x(_ v: Double?) -> String { v.map { String(format: "%.2fx", $0) } ?? "-" }

    /// Wall time of `m2d-embed` from exec to its first output line, on the model in `dir`/model.
    func startupTime(me: URL, dir: String) throws -> Double? {
        var samples = [Float](repeating: 0, count: 160_000)
        var rng = Rng(seed: 2)
        for i in samples.indices { samples[i] = 0.1 * rng.normal() }
        try Data(WavEncoder.pcm16(samples, sampleRate: 16000)).write(to: URL(fileURLWithPath: dir + "/clip.wav"))
        let embed = me.deletingLastPathComponent().appendingPathComponent("m2d-embed").path
        guard FileManager.default.isExecutableFile(atPath: embed) else { return nil }
        let start = Date()
        guard try capture(embed, ["--model", dir + "/model", dir + "/clip.wav"]) != nil else { return nil }
        return Date().timeIntervalSince(start)
    }
}

/// One configuration in its own process: prints {"b1": s, "b8": s, "rssMiB": peak, "engine": ...}.
struct ClipBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clip", abstract: "One backend/precision on a 10 s clip (JSON).")
    @Option(help: "Model directory (m2d-bench compare writes a random ViT-Base one).") var model: String
    @Option var backend = GEMMEngine.Backend.auto
    @Option var precision = GEMMEngine.Precision.fp32
    @Option var repeats = 3
    @Option var threads = 2

    func run() throws {
        BLAS.threads = threads
        let engine: GEMMEngine
        do {
            // As in m2d-server and m2d-embed: the engine owns the weights and takes each over as it loads.
            engine = try GEMMEngine(backend: backend, precision: precision, ownsWeights: true)
        } catch { throw ValidationError("\(error)") }
        let loaded: LoadedModel
        do { loaded = try ModelDirectory.load(model, engine: engine) } catch { throw ValidationError("\(error)") }
        let embedder = AudioEmbedder(weights: loaded.weights, maxBatchChunks: 16, engine: engine)
        var rng = Rng(seed: 3)
        let mels = (0..<8).map { _ -> FloatBuffer in
            let m = FloatBuffer(count: 80 * 1001)
            for i in 0..<m.count { m.pointer[i] = rng.normal() }
            return m
        }
        func best(_ clips: Int) throws -> Double {
            _ = try embedder.embed(
                normalizedLogMels: Array(mels[0..<clips]), durations: [Double](repeating: 10, count: clips))
            var t = Double.infinity
            for _ in 0..<repeats {
                let s = Date()
                _ = try embedder.embed(
                    normalizedLogMels: Array(mels[0..<clips]), durations: [Double](repeating: 10, count: clips))
                t = min(t, Date().timeIntervalSince(s))
            }
            return t
        }
        let b1 = try best(1), b8 = try best(8)
        print(#"{"b1":\#(b1),"b8":\#(b8),"rssMiB":\#(Self.peakRSSMiB()),"engine":"\#(engine.summary)"}"#)
    }

    /// This process's own peak RSS (VmHWM). Not getrusage's ru_maxrss: Linux carries that across
    /// exec, so a child of the compare process (which wrote the model) would report its parent's peak.
    static func peakRSSMiB() -> Double {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        let kB = line.flatMap { Double($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        return kB / 1024
    }
}

/// The last line a tool prints on stdout, or nil when it exits non-zero (every bench that runs a peer or
/// another configuration in its own process). `quiet` drops its stderr.
func capture(
    _ exe: String, _ args: [String], env: [String: String] = [:], quiet: Bool = false
) throws -> String? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    let pipe = Pipe()
    p.standardOutput = pipe
    if quiet { p.standardError = FileHandle.nullDevice }
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init)
}

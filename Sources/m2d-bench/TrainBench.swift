// m2d-bench train: one M2D training step (forward, backward, AdamW, EMA; no data loading) per
// preset at batch 8, clips/s and GFLOP/s, next to the same step in PyTorch
// (tools/reference/bench_train.py) measured in the same run with the same threads.
import ArgumentParser
import Foundation
import M2DModel
import M2DTensor
import M2DTraining

struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Training step vs the PyTorch reference step.")

    @Option(help: "Presets (comma-separated): tiny, small, m2d_vit_base.") var presets = "small,m2d_vit_base"
    @Option(help: "Batch size.") var batch = 8
    @Option(help: "Timed repetitions (best is reported).") var repeats = 2
    @Option(help: "Threads for us and for PyTorch.") var threads = 2
    @Option(help: "Our GEMM backends (comma-separated): openblas, onednn.") var backends = "openblas,onednn"
    @Option(help: "Python with torch (default $M2D_TORCH_PYTHON; scripts/peers-venv.sh prints one; none: skipped).")
    var python =
        ProcessInfo.processInfo.environment["M2D_TORCH_PYTHON"] ?? ""

    static func network(_ preset: String) -> M2DNetworkConfig {
        let (d, dp, h, dd, ddp, dh) =
            switch preset {
            case "m2d_vit_base": (768, 12, 12, 512, 8, 16)
            case "tiny": (64, 2, 2, 32, 1, 2)
            default: (768, 4, 12, 256, 2, 8)
            }
        return M2DNetworkConfig(
            encoder: ModelConfig(name: preset, embedDim: d, depth: dp, numHeads: h), decoderDim: dd,
            decoderDepth: ddp, decoderHeads: dh, maskRatio: 0.7)
    }

    /// Matmul FLOPs of one step per sample: forward of online (1+K tokens), predictor (1+L),
    /// target (1+L-K), patch embedding; backward = 2x the forward of the trained parts.
    static func flops(_ c: M2DNetworkConfig) -> Double {
        func block(_ n: Double, _ d: Double, _ h: Double) -> Double { 2 * n * (4 * d * d + 2 * d * h) + 4 * n * n * d }
        let D = Double(c.encoder.embedDim), H = Double(c.encoder.mlpHidden), Dd = Double(c.decoderDim)
        let L = Double(c.patches), K = Double(c.keep), depth = Double(c.encoder.depth), ddepth = Double(c.decoderDepth)
        let patch = 2 * L * 256 * D
        let online = depth * block(1 + K, D, H)
        let predictor = 2 * (1 + K) * D * Dd + ddepth * block(1 + L, Dd, 4 * Dd) + 2 * (1 + L) * Dd * D
        let target = depth * block(1 + L - K, D, H)
        return 3 * (patch + online + predictor) + target
    }

    func run() throws {
        BLAS.threads = threads
        print(
            "training step on OpenBLAS \(BLAS.coreName) "
                + "(OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset")), "
                    + "\(threads) threads; PyTorch with the same threads\n"
        )
        print(
            "| preset | backend | batch | ours s/step | clips/s | GFLOP/s | PyTorch s/step | ours vs PyTorch | target "
                + ">= 1.0x (issue 4: 1.5x) |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for preset in presets.split(separator: ",").map(String.init) {
            let c = Self.network(preset)
            let torchSeconds = torchStep(preset)
            for name in backends.split(separator: ",").map(String.init) {
                guard let backend = GEMMEngine.Backend(rawValue: name) else {
                    throw ValidationError("unknown backend \(name)")
                }
                let engine: GEMMEngine
                do { engine = try GEMMEngine(backend: backend, weightsChange: true) } catch {
                    print("| \(preset) | \(name) | \(batch) | unavailable: \(error) | | | | | |")
                    continue
                }
                let best = ourStep(c, engine: engine)
                let gflops = Self.flops(c) * Double(batch) / best / 1e9
                let ratio = torchSeconds.map { $0 / best }
                print(
                    String(
                        format: "| %@ | %@ | %d | %.3f | %.1f | %.1f | %@ | %@ | %@ |", preset, engine.summary, batch,
                        best, Double(batch) / best, gflops,
                        torchSeconds.map { String(format: "%.3f", $0) } ?? "-",
                        ratio.map { String(format: "%.2fx", $0) } ?? "-",
                        ratio.map { $0 >= 1 ? "PASS" : "FAIL" } ?? "n/a"))
            }
        }
    }

    /// Best seconds of `repeats` steps after one warm-up step.
    func ourStep(_ c: M2DNetworkConfig, engine: GEMMEngine) -> Double {
        let net = M2DNetwork(config: c, engine: engine)
        net.initialize(seed: 1)
        var optimizer = AdamW(layout: net.trainable)
        var rng = Rng(seed: 2)
        let input = FloatBuffer(count: batch * 80 * 608)
        for i in 0..<input.count { input.pointer[i] = rng.normal() }
        func step() {
            let masks = RandomMasking.draw(batch: batch, patches: c.patches, ratio: c.maskRatio, rng: &rng)
            net.grads.zero()
            _ = net.lossAndGradients(input: input.pointer, batch: batch, masks: masks)
            optimizer.update(params: net.params.pointer, grads: net.grads.pointer, lr: 1e-4)
            net.updateTarget(tau: 0.9999)
        }
        step()
        var best = Double.infinity
        for _ in 0..<repeats {
            let s = Date()
            step()
            best = min(best, Date().timeIntervalSince(s))
        }
        return best
    }

    /// The PyTorch reference step's seconds (tools/reference/bench_train.py), nil without torch.
    func torchStep(_ preset: String) -> Double? {
        guard FileManager.default.isExecutableFile(atPath: python) else { return nil }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tools/reference/bench_train.py").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [script]
        p.environment = ProcessInfo.processInfo.environment.merging(
            ["PRESET": preset, "BATCH": "\(batch)", "THREADS": "\(threads)", "REPEATS": "\(repeats)"]) { $1 }
        let pipe = Pipe()
        p.standardOutput = pipe
        guard (try? p.run()) != nil else { return nil }
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard let line = String(decoding: out, as: UTF8.self).split(separator: "\n").last,
            let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { return nil }
        return json["step_seconds"] as? Double
    }
}

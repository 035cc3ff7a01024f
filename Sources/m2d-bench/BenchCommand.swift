// m2d-bench: prints a table of front-end real-time factor, encoder chunks/s and GFLOP/s for
// ViT-Base dimensions (random weights, 80x608 chunks), next to plain sgemm GFLOP/s on the same
// shapes measured in the same run. Benchmarks, not tests: the machine is shared and noisy, so
// ratios against the same-run baseline are what to read.
import ArgumentParser
import CProcess
import Foundation
import M2DAudio
import M2DModel
import M2DTensor

extension GEMMEngine.Backend: ExpressibleByArgument {}
extension GEMMEngine.Precision: ExpressibleByArgument {}

@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "m2d-bench", abstract: "Benchmarks that print tables (make bench).",
        subcommands: [
            CoreBench.self, CompareBench.self, ClipBench.self, PeerBench.self, TrainBench.self, JSONBench.self,
            TextBench.self,
        ],
        defaultSubcommand: CoreBench.self)

}

struct CoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "core",
        abstract: "Front-end real-time factor and encoder GFLOP/s next to plain sgemm on the same shapes.")

    @Option(help: "Timed repetitions per measurement (best is reported).") var repeats = 3
    @Option(help: "Encoder depth (ViT-Base has 12).") var depth = 12
    @Option(help: "BLAS threads for the encoder (default: all cores).") var threads: Int?
    @Flag(help: "Also print a per-op breakdown of one block.") var ops = false
    @Option(help: "Chunks per block in the op breakdown.") var opsBatch = 1
    @Option(help: "GEMM backend: auto, onednn or openblas.") var backend: GEMMEngine.Backend = .openblas
    @Option(help: "Precision: fp32, bf16 or int8 (bf16 and int8 need onednn).")
    var precision: GEMMEngine.Precision = .fp32
    @Option(help: "Batch sizes (chunks per forward), comma-separated.") var batches: String = "1,8"

    func run() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let encoderThreads = threads ?? cores
        print(
            "OpenBLAS core: \(BLAS.coreName)   "
                + "OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)")   cores: "
                + "\(cores)"
        )
        print("")
        frontEnd()
        print("")
        BLAS.threads = encoderThreads
        let engine: GEMMEngine
        // As in m2d-server and m2d-embed: an engine that owns its weights (the fused encoder where it runs).
        do { engine = try GEMMEngine(backend: backend, precision: precision, ownsWeights: true) } catch {
            throw ValidationError("\(error)")
        }
        let enc = encoder(threads: encoderThreads, engine: engine)
        if ops {
            print("")
            if engine.fused != nil {
                OpBreakdown.fused(encoder: enc, batch: opsBatch, repeats: repeats, engine: engine)
            } else {
                OpBreakdown.run(rows: 191 * opsBatch, tokens: 191, batch: opsBatch, repeats: repeats, engine: engine)
            }
        }
    }

    func best(_ body: () -> Void) -> Double {
        body()  // warm-up
        var t = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            t = min(t, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return t
    }

    func frontEnd() {
        BLAS.threads = 1
        var rng = Rng(seed: 1)
        let samples = (0..<160_000).map { _ in rng.uniform(-0.5, 0.5) }
        let fe = LogMelFrontEnd(.m2d16k)
        let t = best { _ = fe.logMel(samples) }
        let rtf = 10.0 / t
        print(
            "| front end (1 thread) | 10 s clip | \(fmt(t * 1000)) ms | \(fmt(rtf))x real time | target >= 1000x: "
                + "\(rtf >= 1000 ? "PASS" : "FAIL") |"
        )
    }

    @discardableResult
    func encoder(threads: Int, engine: GEMMEngine) -> ViTEncoder {
        let config = ModelConfig(name: "bench-vit-base", embedDim: 768, depth: depth, numHeads: 12)
        let weights = EncoderWeights.random(config: config, seed: 7)
        let enc = ViTEncoder(weights: weights, engine: engine)
        let D = 768, Hd = 3072, Tp = 38, N = 1 + 5 * Tp
        // The ratio compares GEMM rates: the encoder's total FLOPs over its time against the plain
        // GEMMs of its own linear layers (OpenBLAS, the portable baseline) over theirs.
        print(
            "| encoder ViT-B depth \(depth), 80x608 chunk, \(threads) threads | batch | chunks/s | ms/batch | encoder "
                + "GFLOP/s | plain sgemm GFLOP/s | ratio | target >= 0.80 |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for batch in batches.split(separator: ",").compactMap({ Int($0) }) {
            let input = FloatBuffer(count: batch * 80 * 608)
            var rng = Rng(seed: 3)
            for i in 0..<input.count { input.pointer[i] = rng.normal() }
            let chunks = (0..<batch).map {
                EncoderChunk(base: input.pointer + $0 * 80 * 608, rowStride: 608, timePatches: Tp)
            }
            let t = best { _ = enc.forward(chunks, timePatches: Tp) }
            let rows = batch * N
            let linearFlops = 2.0 * Double(rows) * Double(D * 3 * D + D * D + D * Hd + Hd * D) * Double(depth)
            let attnFlops = 4.0 * Double(batch) * Double(N * N * D) * Double(depth)
            let patchFlops = 2.0 * Double(batch * 5 * Tp) * 256 * Double(D)
            let flops = linearFlops + attnFlops + patchFlops
            let sgemm = plainSgemm(weights: weights, rows: rows, D: D, hidden: Hd)
            let rate = flops / t / 1e9
            let ratio = rate / sgemm
            print(
                "| \(engine.summary) | \(batch) | \(fmt(Double(batch) / t)) | \(fmt(t * 1000)) | \(fmt(rate)) | "
                    + "\(fmt(sgemm)) | \(fmt(ratio)) | \(ratio >= 0.8 ? "PASS" : "FAIL") |"
            )
        }
        return enc
    }

    /// GFLOP/s of plain sgemm over the encoder's own linear layers (every block's four weight
    /// matrices, as the forward meets them, cold in cache) at `rows` tokens: the GEMM work of a
    /// forward without anything else, so encoder / plain is the cost of all the rest.
    func plainSgemm(weights: EncoderWeights, rows: Int, D: Int, hidden: Int) -> Double {
        let a = FloatBuffer(count: rows * hidden), c = FloatBuffer(count: rows * 3 * D + rows * hidden)
        var rng = Rng(seed: 5)
        for i in 0..<a.count { a.pointer[i] = rng.normal() }
        var flops = 0.0
        for _ in weights.blocks { flops += 2.0 * Double(rows) * Double(3 * D * D + D * D + D * hidden + hidden * D) }
        let t = best {
            for blk in weights.blocks {
                for (w, oc, k) in [
                    (blk.qkvW, 3 * D, D), (blk.projW, D, D), (blk.fc1W, hidden, D), (blk.fc2W, D, hidden),
                ] {
                    BLAS.gemm(
                        transB: .transposed, M: rows, N: oc, K: k, a: a.pointer, lda: k, b: w, ldb: k,
                        c: c.pointer, ldc: oc)
                }
            }
        }
        return flops / t / 1e9
    }

    func fmt(_ x: Double) -> String { String(format: x >= 100 ? "%.0f" : "%.2f", x) }
}

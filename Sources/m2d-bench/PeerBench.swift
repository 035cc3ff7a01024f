// m2d-bench peer: our encoder's row of make bench-peers (scripts/bench-peers.sh). The same random
// ViT-Base weights and the same 80x608 chunks as the peers (tools/peers/bench_peers.py writes
// both), batch 1 and 8, in this process alone, so its peak RSS is its own; the batch-8 tokens go
// to a .npy file for the cosine against PyTorch fp32.
import ArgumentParser
import Foundation
import M2DCheckpoint
import M2DModel
import M2DTensor

struct PeerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer", abstract: "Our encoder on make bench-peers' weights and chunks (one JSON line).")

    @Option(help: "Model directory written by tools/peers/bench_peers.py prepare.") var model: String
    @Option(help: "Normalized log-mel chunks, float32 .npy of shape (8, 80, 608).") var input: String
    @Option(help: "Where the batch-8 output tokens go (.npy, (8, 191, 768)).") var output: String
    @Option(help: "GEMM backend: auto, onednn or openblas.") var backend: GEMMEngine.Backend = .onednn
    @Option(help: "Precision: fp32, bf16 or int8.") var precision: GEMMEngine.Precision = .fp32
    @Option(help: "Timed repetitions (best is reported).") var repeats = 5
    @Option(help: "Threads.") var threads = 2

    func run() throws {
        BLAS.threads = threads
        let engine: GEMMEngine
        do { engine = try GEMMEngine(backend: backend, precision: precision, ownsWeights: true) } catch {
            throw ValidationError("\(error)")
        }
        let weights = try ModelDirectory.load(model, engine: engine).weights
        let c = weights.config
        guard let data = FileManager.default.contents(atPath: input), let chunks = NpyFile.decode(data),
            chunks.shape.count == 3, chunks.shape[1] == c.nMels, chunks.shape[2] == c.chunkFrames
        else { throw ValidationError("\(input): expected a float32 .npy of shape (B, \(c.nMels), \(c.chunkFrames))") }
        let encoder = ViTEncoder(weights: weights, engine: engine)
        let batch = chunks.shape[0], per = c.nMels * c.chunkFrames
        let (b1, b8, tokens) = chunks.values.withUnsafeBufferPointer { all -> (Double, Double, [Float]) in
            let views = (0..<batch).map {
                EncoderChunk(
                    base: all.baseAddress! + $0 * per, rowStride: c.chunkFrames, timePatches: c.gridTimePatches)
            }
            encoder.reserve(chunks: batch)
            func best(_ n: Int) -> Double {
                _ = encoder.forward(Array(views[0..<n]))
                var t = Double.infinity
                for _ in 0..<max(1, repeats) {
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = encoder.forward(Array(views[0..<n]))
                    t = min(t, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
                return t
            }
            return (best(1), best(batch), encoder.forward(views, timePatches: c.gridTimePatches).toArray())
        }
        if let failure = engine.takeFailure() { throw ValidationError("oneDNN: \(failure)") }
        let N = encoder.tokenCount(timePatches: c.gridTimePatches)
        try NpyFile.encode(tokens, shape: [batch, N, c.embedDim]).write(to: URL(fileURLWithPath: output))
        print(
            #"{"b1_ms":\#(b1 * 1000),"b8_ms":\#(b8 * 1000),"rss_mib":\#(ClipBench.peakRSSMiB()),"#
                + #""engine":"\#(engine.summary)"}"#)
    }
}

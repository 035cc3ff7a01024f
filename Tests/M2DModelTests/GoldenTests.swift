// The definition of correct: every official golden case (three models x five WAVs) through our
// decoder, front end, encoder and embedder, against the official PyTorch runtime's outputs.
import Foundation
import M2DAudio
import M2DCheckpoint
import M2DModel
import M2DTensor
import Testing
import TestSupport

struct GoldenCase: CustomTestStringConvertible, Sendable {
    let model: String
    let audio: String
    let backend: GEMMEngine.Backend
    var testDescription: String { "\(model)/\(audio)/\(backend.rawValue)" }
}

let allGoldenCases = [GEMMEngine.Backend.openblas, .onednn].flatMap { b in
    Fixtures.goldenCases.flatMap { m in Fixtures.goldenAudio.map { GoldenCase(model: m, audio: $0, backend: b) } }
}

@Suite struct GoldenTests {
    @Test(arguments: allGoldenCases)
    func matchesOfficialRuntime(_ c: GoldenCase) throws {
        let dir = Fixtures.golden + "/" + c.model
        // oneDNN as the servers run it: the engine owns the weights and takes each Linear weight over
        // while the directory loads, releasing the original.
        let engine = try GEMMEngine(backend: c.backend, ownsWeights: true)
        let model = try ModelDirectory.load(dir + "/model", engine: engine)
        #expect((model.weights.linearOwner != nil) == (c.backend == .onednn))
        if c.backend == .onednn {
            let fc2 = model.weights.tensor("blocks.\(model.config.depth - 1).mlp.fc2.weight")
            #expect(fc2.base[fc2.count / 2] == 0, "the original fc2 weight was not released while loading")
        }
        let expected = try SafeTensorsFile(path: dir + "/expected.safetensors")
        let audio = try AudioPipeline.prepare(
            Fixtures.bytes(Fixtures.golden + "/audio/\(c.audio).wav"), sampleRate: 16000)
        let embedder = AudioEmbedder(weights: model.weights, engine: engine)

        let logMel = embedder.frontEnd.logMel(audio.samples)
        let refLogMel = try expected.array("logmel.\(c.audio)")
        #expect(expected.shape(of: "logmel.\(c.audio)") == [80, logMel.count / 80])
        let lm = Numerics.compare("logmel", logMel.toArray(), refLogMel, atol: 1e-3)
        #expect(lm.violations == 0, "\(lm)")

        let normalized = embedder.normalizedLogMel(audio.samples)
        let nm = Numerics.compare(
            "normalized", normalized.toArray(), try expected.array("normalized.\(c.audio)"), atol: 1e-3)
        #expect(nm.violations == 0, "\(nm)")

        let embedding = try embedder.embed(audio.samples)
        let refFrames = try expected.array("frames.\(c.audio)")
        let refShape = expected.shape(of: "frames.\(c.audio)")!
        #expect(refShape == [embedding.frameCount, embedding.dim])
        let maxRef = refFrames.reduce(0) { max($0, abs($1)) }
        let fr = Numerics.compare("frames", embedding.frames, refFrames, atol: 1e-3 * Double(max(1, maxRef)))
        #expect(fr.violations == 0, "\(fr)")
        for i in 0..<embedding.frameCount {
            let cos = Numerics.cosine(embedding.frame(i), refFrames[(i * embedding.dim)..<((i + 1) * embedding.dim)])
            #expect(cos >= 0.99999, "frame \(i) cosine \(cos)")
        }
        let refClip = try expected.array("clip.\(c.audio)")
        let clipMax = refClip.reduce(0) { max($0, abs($1)) }
        let cl = Numerics.compare("clip", embedding.clip, refClip, atol: 1e-3 * Double(max(1, clipMax)))
        #expect(cl.violations == 0 && cl.cosine >= 0.99999, "\(cl)")

        if model.config.flatFeatures {
            #expect(embedding.timestampsMs.isEmpty)
        } else {
            let ts = Numerics.compare(
                "timestamps", embedding.timestampsMs, try expected.array("timestamps_ms.\(c.audio)"), atol: 1e-3)
            #expect(ts.violations == 0, "\(ts)")
        }
        // A second forward, with the originals released, reads only oneDNN's copies: the same result.
        #expect(try embedder.embed(audio.samples).clip == embedding.clip)
        if c.backend == .onednn {
            let qkv = model.weights.tensor("blocks.0.attn.qkv.weight")
            #expect(qkv.base[qkv.count / 2] == 0, "the original qkv weight was not released")
        }
    }

    /// An owning engine given the weights only after loading takes each over at its first product:
    /// the same embeddings as the streamed load, and the originals released after the first forward.
    @Test(arguments: [GEMMEngine.Precision.fp32, .bf16])
    func ownedAfterLoadingEqualsStreamedLoading(precision: GEMMEngine.Precision) throws {
        guard GEMMEngine.oneDNNSupports(precision) else { return try expectBF16Refused() }
        let dir = Fixtures.golden + "/wide_608/model"
        let samples = try AudioPipeline.prepare(
            Fixtures.bytes(Fixtures.golden + "/audio/ten_sec_mod.wav"), sampleRate: 16000
        ).samples
        let lateEngine = try GEMMEngine(backend: .onednn, precision: precision, ownsWeights: true)
        let late = try ModelDirectory.load(dir)
        let qkv = late.weights.tensor("blocks.0.attn.qkv.weight")
        #expect(qkv.base[qkv.count / 2] != 0)
        let lateClip = try AudioEmbedder(weights: late.weights, engine: lateEngine).embed(samples).clip
        #expect(qkv.base[qkv.count / 2] == 0, "the original qkv weight was not released")
        let streamedEngine = try GEMMEngine(backend: .onednn, precision: precision, ownsWeights: true)
        let streamed = try ModelDirectory.load(dir, engine: streamedEngine)
        #expect(try AudioEmbedder(weights: streamed.weights, engine: streamedEngine).embed(samples).clip == lateClip)
        let fp32 = try AudioEmbedder(weights: try ModelDirectory.load(dir).weights).embed(samples).clip
        let cos = Numerics.cosine(lateClip[...], fp32[...])
        #expect(cos > (precision == .bf16 ? 0.999 : 0.99999), "\(precision) owned vs OpenBLAS fp32 clip cosine \(cos)")
    }

    /// Where oneDNN has no bf16 (CPUs without AVX-512), asking for it is a clear error, not garbage.
    private func expectBF16Refused() throws {
        #expect(!GEMMEngine.oneDNNSupports(.bf16))
        do {
            _ = try GEMMEngine(backend: .onednn, precision: .bf16)
            Issue.record("bf16 engine created although oneDNN cannot run bf16 here")
        } catch {
            #expect(
                error == .unsupported(error.description) && error.description.contains("--precision fp32"), "\(error)")
        }
    }

    @Test func bf16StaysCloseToFP32() throws {
        guard GEMMEngine.oneDNNSupports(.bf16) else { return try expectBF16Refused() }
        let model = try ModelDirectory.load(Fixtures.golden + "/wide_608/model")
        let samples = try AudioPipeline.prepare(
            Fixtures.bytes(Fixtures.golden + "/audio/ten_sec_mod.wav"), sampleRate: 16000
        ).samples
        let fp32 = try AudioEmbedder(weights: model.weights).embed(samples)
        let bf16 = try AudioEmbedder(weights: model.weights, engine: try GEMMEngine(backend: .onednn, precision: .bf16))
            .embed(samples)
        let cos = Numerics.cosine(bf16.clip[...], fp32.clip[...])
        #expect(cos > 0.999 && cos < 1, "bf16 vs fp32 clip cosine \(cos)")
        #expect(throws: GEMMEngineError.self) { try GEMMEngine(backend: .openblas, precision: .bf16) }
    }

    /// int8 (docs/INT8.md) against the official runtime's fp32 outputs, every model and clip: the
    /// gates are clip cosine >= 0.999 and every frame's cosine >= 0.995.
    @Test(arguments: Fixtures.goldenCases)
    func int8StaysCloseToTheOfficialRuntime(model name: String) throws {
        let dir = Fixtures.golden + "/" + name
        let engine = try GEMMEngine(backend: .onednn, precision: .int8, ownsWeights: true)
        let model = try ModelDirectory.load(dir + "/model", engine: engine)
        let embedder = AudioEmbedder(weights: model.weights, engine: engine)
        let expected = try SafeTensorsFile(path: dir + "/expected.safetensors")
        for clip in Fixtures.goldenAudio {
            let samples = try AudioPipeline.prepare(
                Fixtures.bytes(Fixtures.golden + "/audio/\(clip).wav"), sampleRate: 16000
            ).samples
            let embedding = try embedder.embed(samples)
            let refClip = try expected.array("clip.\(clip)"), refFrames = try expected.array("frames.\(clip)")
            let clipCosine = Numerics.cosine(embedding.clip[...], refClip[...])
            #expect(clipCosine >= 0.999, "\(name)/\(clip) int8 clip cosine \(clipCosine)")
            var worst = 1.0
            for i in 0..<embedding.frameCount {
                let ref = refFrames[(i * embedding.dim)..<((i + 1) * embedding.dim)]
                worst = min(worst, Numerics.cosine(embedding.frame(i), ref))
            }
            #expect(worst >= 0.995, "\(name)/\(clip) int8 worst frame cosine \(worst)")
        }
        #expect(engine.summary.contains("int8"))
    }

    @Test func batchingAcrossClipsGivesTheSameResult() throws {
        let model = try ModelDirectory.load(Fixtures.golden + "/tiny_208/model")
        let clips = try Fixtures.goldenAudio.map {
            try AudioPipeline.prepare(Fixtures.bytes(Fixtures.golden + "/audio/\($0).wav"), sampleRate: 16000).samples
        }
        let batched = try AudioEmbedder(weights: model.weights, maxBatchChunks: 16).embed(clips)
        let single = AudioEmbedder(weights: model.weights, maxBatchChunks: 1)
        for (clip, b) in zip(clips, batched) {
            let s = try single.embed(clip)
            let cmp = Numerics.compare("batched vs single", b.frames, s.frames, atol: 1e-5, rtol: 1e-5)
            #expect(cmp.violations == 0, "\(cmp)")
        }
    }
}

// Every official checkpoint family (M2D-S 80x2 patches, 16x4 patches, 32 kHz, 80x1001) loaded from an
// official-style .pth (sizes from the directory name) against the official runtime's outputs
// (Tests/Fixtures/families, made by tools/reference/official_families.py).
import Foundation
import M2DAudio
import M2DCheckpoint
import M2DModel
import M2DTensor
import Testing
import TestSupport

struct FamilyCase: CustomTestStringConvertible, Sendable {
    let name: String
    let directory: String
    let audio: [String]
    let backend: GEMMEngine.Backend
    var testDescription: String { "\(name)/\(backend.rawValue)" }

    var pth: String { Fixtures.families + "/\(name)/\(directory)/checkpoint-300.pth" }

    func samples(_ audio: String, rate: Int) throws -> [Float] {
        let path = rate == 32000 ? Fixtures.families + "/audio/\(audio).wav" : Fixtures.golden + "/audio/\(audio).wav"
        return try AudioPipeline.prepare(Fixtures.bytes(path), sampleRate: rate).samples
    }
}

let speech16k = ["short_chirp", "five_sec_tone_noise", "ten_sec_mod"]
let familyCases = [GEMMEngine.Backend.openblas, .onednn].flatMap { backend in
    [
        ("m2ds_608", "m2d_s_vit_base-80x608p80x2-230220", speech16k),
        ("p16x4_200", "m2d_vit_base-80x200p16x4-230529", speech16k),
        ("p32k_608", "m2d_vit_base-80x608p16x16p32k-240304", ["chirp32k"]),
        ("l1001", "m2d_vit_base-80x1001p16x16-221006-mr7", speech16k),
    ].map { FamilyCase(name: $0.0, directory: $0.1, audio: $0.2, backend: backend) }
}

@Suite struct FamilyGoldenTests {
    @Test(arguments: familyCases)
    func matchesOfficialRuntime(_ c: FamilyCase) throws {
        let engine = try GEMMEngine(backend: c.backend)
        let model = try ModelDirectory.loadAny(c.pth, engine: engine)
        let expected = try SafeTensorsFile(path: Fixtures.families + "/\(c.name)/expected.safetensors")
        let embedder = AudioEmbedder(weights: model.weights, engine: engine)
        for audio in c.audio {
            let samples = try c.samples(audio, rate: model.config.sampleRate)
            if model.config.sampleRate == 32000 {
                let logMel = embedder.frontEnd.logMel(samples)
                let lm = Numerics.compare("logmel", logMel.toArray(), try expected.array("logmel.\(audio)"), atol: 1e-3)
                #expect(lm.violations == 0, "\(audio): \(lm)")
            }
            let embedding = try embedder.embed(samples)
            #expect(expected.shape(of: "frames.\(audio)") == [embedding.frameCount, embedding.dim], "\(audio)")
            let reference = try expected.array("frames.\(audio)")
            let scale = Double(max(1, reference.reduce(0) { max($0, abs($1)) }))
            let frames = Numerics.compare("frames", embedding.frames, reference, atol: 1e-3 * scale)
            #expect(frames.violations == 0 && frames.cosine >= 0.99999, "\(audio): \(frames)")
            for i in 0..<embedding.frameCount {
                let row = reference[(i * embedding.dim)..<((i + 1) * embedding.dim)]
                let cos = Numerics.cosine(embedding.frame(i), row)
                #expect(cos >= 0.99999, "\(audio) frame \(i) cosine \(cos)")
            }
            let clip = Numerics.compare("clip", embedding.clip, try expected.array("clip.\(audio)"), atol: 1e-3 * scale)
            #expect(clip.violations == 0 && clip.cosine >= 0.99999, "\(audio): \(clip)")
            let ts = Numerics.compare(
                "timestamps", embedding.timestampsMs, try expected.array("timestamps_ms.\(audio)"), atol: 1e-2)
            #expect(ts.violations == 0, "\(audio): \(ts)")
        }
    }
}

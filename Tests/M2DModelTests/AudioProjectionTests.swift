// The audio projection of M2D-CLAP checkpoints (2024 MLP, 2025 AudioToSemantic) against the official runtime's
// encode_clap_audio with flat_features=True (Tests/Fixtures/families/clap*).
import Foundation
import M2DAudio
import M2DCheckpoint
import M2DModel
import Testing
import TestSupport

@Suite struct AudioProjectionTests {
    static let cases = [
        ("clap2024_608", "m2d_clap_vit_base-80x608p16x16-240128", AudioProjection.Kind.mlp),
        ("clap2025_1001", "m2d_clap_vit_base-80x1001p16x16p16kpB-2025", .semantic),
    ]

    @Test(arguments: cases.indices)
    func projectsAsTheOfficialRuntime(_ index: Int) throws {
        let (name, folder, kind) = Self.cases[index]
        let pth = Fixtures.families + "/\(name)/\(folder)/checkpoint-300.pth"
        let model = try ModelDirectory.loadAny(pth)
        let projection = try #require(try AudioProjection.official(pth, dim: model.config.embedDim))
        #expect(projection.kind == kind && projection.dim == 128)
        // Written to a model directory and read back: the same projection.
        let dir = Fixtures.temporaryDirectory()
        try projection.write(toModel: dir)
        let reread = try #require(try AudioProjection.load(modelDirectory: dir, dim: 128))
        let expected = try SafeTensorsFile(path: Fixtures.families + "/\(name)/expected.safetensors")
        let embedder = AudioEmbedder(weights: model.weights)
        for audio in ["short_chirp", "five_sec_tone_noise", "ten_sec_mod"] {
            let samples = try AudioPipeline.prepare(
                Fixtures.bytes(Fixtures.golden + "/audio/\(audio).wav"), sampleRate: 16000
            ).samples
            let embedding = try embedder.embed(samples)
            let out = embedding.frames.withUnsafeBufferPointer {
                reread.project(tokens: $0.baseAddress!, count: embedding.frames.count / 128)
            }
            let reference = try expected.array("clap.\(audio)")
            let scale = Double(max(1, reference.reduce(0) { max($0, abs($1)) }))
            let cmp = Numerics.compare("clap", out, reference, atol: 1e-3 * scale)
            #expect(cmp.violations == 0 && cmp.cosine >= 0.99999, "\(name) \(audio): \(cmp)")
            if kind == .semantic {
                // Blocks of 7 rows (many blocks, a short last one) give the one-block answer.
                let blocked = embedding.frames.withUnsafeBufferPointer {
                    reread.project(tokens: $0.baseAddress!, count: embedding.frames.count / 128, blockRows: 7)
                }
                #expect(Numerics.compare("blocks", blocked, out, atol: 1e-5).violations == 0)
            }
            if kind == .mlp {
                // The MLP reads only the token mean: the clip's stacked means give the same answer.
                let fromClip = embedding.clip.withUnsafeBufferPointer {
                    reread.project(tokens: $0.baseAddress!, count: embedding.clip.count / 128)
                }
                #expect(Numerics.compare("clip path", fromClip, out, atol: 1e-5).violations == 0)
            }
        }
    }

    @Test func checkpointsWithoutAProjectionHaveNone() throws {
        let pth = Fixtures.families + "/l1001/m2d_vit_base-80x1001p16x16-221006-mr7/checkpoint-300.pth"
        #expect(try AudioProjection.official(pth, dim: 128) == nil)
        #expect(try AudioProjection.load(modelDirectory: Fixtures.golden + "/tiny_208/model", dim: 192) == nil)
    }
}

/// Hostile audio_proj.safetensors files are clear errors, never a trap or a huge allocation.
@Suite struct HostileProjectionTests {
    func write(_ tensors: [(String, [Float])], metadata: [String: String]) throws -> String {
        let dir = Fixtures.temporaryDirectory()
        var w = SafeTensorsWriter()
        for (k, v) in tensors { w.add(k, shape: [v.count], array: v) }
        w.metadata = metadata
        try w.write(to: dir + "/" + AudioProjection.fileName)
        return dir
    }

    @Test func badFilesAreErrors() throws {
        let D = 8
        let ok = try write(
            [("0.weight", .init(repeating: 0, count: D * D)), ("0.bias", .init(repeating: 0, count: D)),
             ("2.weight", .init(repeating: 0, count: D * D)), ("2.bias", .init(repeating: 0, count: D))],
            metadata: ["kind": "mlp", "dim": "\(D)", "hidden": "4611686018427387904"])
        // A claimed hidden size is never used: the MLP's width is D.
        #expect(try AudioProjection.load(modelDirectory: ok, dim: D)?.hidden == D)
        #expect(throws: ModelError.self) { try AudioProjection.load(modelDirectory: ok, dim: 16) }
        let short = try write([("0.weight", [1, 2, 3])], metadata: ["kind": "mlp", "dim": "\(D)"])
        #expect(throws: ModelError.self) { try AudioProjection.load(modelDirectory: short, dim: D) }
        let semantic = try write(
            [
                ("sem_token", .init(repeating: 0, count: D)),
                ("sem_blocks.0.mlp.fc1.bias", .init(repeating: 0, count: 1000)),
            ],
            metadata: ["kind": "semantic", "dim": "\(D)"])
        #expect(throws: ModelError.self) { try AudioProjection.load(modelDirectory: semantic, dim: D) }
        let unknown = try write([], metadata: ["kind": "rnn", "dim": "\(D)"])
        #expect(throws: ModelError.self) { try AudioProjection.load(modelDirectory: unknown, dim: D) }
    }
}

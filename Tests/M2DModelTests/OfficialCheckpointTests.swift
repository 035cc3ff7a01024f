// Official .pth checkpoints load with the official key handling and give the golden embeddings.
import Foundation
import M2DAudio
import M2DCheckpoint
import M2DModel
import Testing
import TestSupport

@Suite struct OfficialCheckpointTests {
    static let pth = Fixtures.golden + "/tiny_208/official_pth/m2d_vit_base-80x208p16x16-golden/checkpoint-300.pth"

    @Test(arguments: Fixtures.goldenAudio)
    func officialPthReproducesTheGoldenEmbeddings(_ audio: String) throws {
        let model = try ModelDirectory.loadAny(Self.pth)
        #expect(
            model.config.inputSize == [80, 208] && model.config.embedDim == 192 && model.config.depth == 2
                && model.config.numHeads == 3)
        #expect(model.config.normStats == [-6.5, 3.9])
        let expected = try SafeTensorsFile(path: Fixtures.golden + "/tiny_208/expected.safetensors")
        let samples = try AudioPipeline.prepare(
            Fixtures.bytes(Fixtures.golden + "/audio/\(audio).wav"), sampleRate: 16000
        ).samples
        let embedding = try AudioEmbedder(weights: model.weights).embed(samples)
        let reference = try expected.array("frames.\(audio)")
        let maxRef = reference.reduce(0) { max($0, abs($1)) }
        let cmp = Numerics.compare("frames", embedding.frames, reference, atol: 1e-3 * Double(max(1, maxRef)))
        #expect(cmp.violations == 0 && cmp.cosine >= 0.99999, "\(cmp)")
        let clip = Numerics.compare(
            "clip", embedding.clip, try expected.array("clip.\(audio)"), atol: 1e-3 * Double(max(1, maxRef)))
        #expect(clip.violations == 0 && clip.cosine >= 0.99999, "\(clip)")
    }

    @Test func sizesFromOfficialNames() {
        typealias S = OfficialCheckpoint.NameSizes
        #expect(
            OfficialCheckpoint.parseSizes("m2d_vit_base-80x608p16x16-221006-mr7")
                == S(inputSize: [80, 608], patchSize: [16, 16], sampleRate: 16000))
        #expect(
            OfficialCheckpoint.parseSizes("m2d_clap_vit_base-80x1001p16x16p32k-240413")
                == S(inputSize: [80, 1001], patchSize: [16, 16], sampleRate: 32000))
        #expect(
            OfficialCheckpoint.parseSizes("m2d_vit_base-80x200p16x4-230529")
                == S(inputSize: [80, 200], patchSize: [16, 4], sampleRate: 16000))
        #expect(
            OfficialCheckpoint.parseSizes("m2d_s_vit_base-80x608p80x2-230201")
                == S(inputSize: [80, 608], patchSize: [80, 2], sampleRate: 16000))
        #expect(OfficialCheckpoint.parseSizes("checkpoint-300") == nil)
        #expect(OfficialCheckpoint.parseSizes("weights") == nil)
    }

    @Test func importWritesAModelDirectoryThatMatches() throws {
        let out = Fixtures.temporaryDirectory() + "/imported"
        let r = try CommandRunner.run("m2d-train", ["import", Self.pth, "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        let imported = try ModelDirectory.load(out)
        let golden = try ModelDirectory.load(Fixtures.golden + "/tiny_208/model")
        #expect(imported.weights.storage.toArray() == golden.weights.storage.toArray())
        #expect(imported.config.inputSize == [80, 208] && imported.config.normStats == [-6.5, 3.9])
    }

    @Test func badNameIsAClearError() throws {
        let dir = Fixtures.temporaryDirectory()
        try FileManager.default.copyItem(atPath: Self.pth, toPath: dir + "/checkpoint-300.pth")
        #expect {
            try ModelDirectory.loadAny(dir + "/checkpoint-300.pth")
        } throws: { error in
            "\(error)".contains("cannot read input and patch size") && "\(error)".contains("80x608p16x16")
        }
    }
}

/// Checkpoints written by tools/reference/make_pth_fixtures.py in the official layouts: full
/// training checkpoint (predictor, target, AdamW state, argparse Namespace, strided and shared
/// storages, F16/BF16 tensors), encoder-only, EVAR fine-tune prefixes, RuntimeM2D 'backbone.' keys.
@Suite struct ReferencePthTests {
    static let cases: [(String, String)] = [
        ("training", "m2d_vit_tiny-80x64p16x16-fixture/checkpoint-300.pth"),
        ("enconly", "m2d_vit_tiny-80x64p16x16-enconly/checkpoint-300.pth"),
        ("evar", "evar_finetune-80x64p16x16/weights_ep10.pth"),
        ("runtime", "runtime_backbone-80x64p16x16/model.pth"),
    ]

    @Test(arguments: cases.map(\.0))
    func loadsOnlyTheEncoderWithOfficialKeyHandling(_ name: String) throws {
        let file = Self.cases.first { $0.0 == name }!.1
        let model = try OfficialCheckpoint.load(Fixtures.root + "/pth/" + file)
        let expected = try SafeTensorsFile(path: Fixtures.root + "/pth/expected.safetensors")
        #expect(model.config.embedDim == 32 && model.config.depth == 2 && model.config.inputSize == [80, 64])
        #expect(model.config.normStats == (try expected.array("\(name)/norm_stats")))
        for e in model.weights.layout.entries {
            let ours = Array(UnsafeBufferPointer(start: model.weights.storage.pointer + e.offset, count: e.shape.count))
            #expect(ours == (try expected.array("\(name)/\(e.name)")), "\(name): \(e.name)")
        }
        if name == "training" {
            #expect(
                model.ignoredKeys.contains("decoder_embed.weight") && model.ignoredKeys.contains("target_norm.weight"))
        }
    }

    @Test func legacyFormatIsRefusedClearly() {
        #expect {
            try OfficialCheckpoint.load(Fixtures.root + "/pth/legacy_tar.pth")
        } throws: { error in
            "\(error)".contains("legacy")
        }
    }
}

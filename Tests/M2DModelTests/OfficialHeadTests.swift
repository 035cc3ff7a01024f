// The head of an EVAR fine-tuned (AudioSet-style) checkpoint: `m2d-train import --labels` writes it, and it
// scores clips and frames as the official runtime's PortableM2D(weight, num_classes=C) forward and
// forward_frames (goldens in Tests/Fixtures/families/audioset_608).
import Foundation
import M2DAudio
import M2DCheckpoint
import M2DModel
import Testing
import TestSupport

@Suite struct OfficialHeadTests {
    static let folder = Fixtures.families + "/audioset_608"
    static let pth = folder + "/m2d_as_vit_base-80x608p16x16-240213_AS-FT_enconly/weights_ep69it3124-0.47929.pth"
    /// labels.csv's display names ordered by mid (pandas sort_values('mid')); the CSV lists them by index.
    static let officialOrder = [
        "Conversation", "Narration, monologue", "Female \"speech\"", "Male speech, man speaking", "Speech",
        "Child speech, kid speaking", "Baby cry, infant cry",
    ]

    func imported(labels: Bool) throws -> (model: String, stderr: String) {
        let out = Fixtures.temporaryDirectory() + "/as"
        let r = try CommandRunner.run(
            "m2d-train", ["import", Self.pth, "--out", out] + (labels ? ["--labels", Self.folder + "/labels.csv"] : []))
        #expect(r.status == 0, "\(r.stderr)")
        return (out, r.stderr)
    }

    @Test func importedHeadGivesTheOfficialLogitsPerClipAndFrame() throws {
        let model = try imported(labels: true).model
        let head = try ProbeHead.load(model + "/heads/audioset.safetensors")
        #expect(head.labels == Self.officialOrder && head.multiLabel && head.input == .tokenMean && head.dim == 128)
        #expect(head.labelsWarning == nil && head.defaultActivation == .sigmoid)
        let loaded = try ModelDirectory.load(model)
        #expect(try ProbeHead.loadAll(modelDirectory: model, config: loaded.config).keys.sorted() == ["audioset"])
        let embedder = AudioEmbedder(weights: loaded.weights)
        let expected = try SafeTensorsFile(path: Self.folder + "/expected.safetensors")
        for audio in ["short_chirp", "five_sec_tone_noise", "ten_sec_mod"] {
            let samples = try AudioPipeline.prepare(
                Fixtures.bytes(Fixtures.golden + "/audio/\(audio).wav"), sampleRate: 16000
            ).samples
            let embedding = try embedder.embed(samples)
            // The official runtime forces flat features for a D-wide head: its clip is the token mean.
            let tokenMean = head.features(embedding.clip[...], embedDim: 128)
            let clip = Numerics.compare("token mean", tokenMean, try expected.array("clip.\(audio)"), atol: 1e-4)
            #expect(clip.violations == 0 && clip.cosine >= 0.99999, "\(audio): \(clip)")
            let logits = Numerics.compare(
                "logits", head.scores(tokenMean, activation: ProbeHead.Activation.none),
                try expected.array("logits.\(audio)"), atol: 1e-3)
            #expect(logits.violations == 0, "\(audio): \(logits)")
            let frameRef = try expected.array("frame_logits.\(audio)")
            #expect(expected.shape(of: "frame_logits.\(audio)") == [embedding.frameCount, 7])
            let frameLogits = (0..<embedding.frameCount).flatMap {
                head.scores(head.features(embedding.frame($0), embedDim: 128), activation: ProbeHead.Activation.none)
            }
            let frames = Numerics.compare("frame logits", frameLogits, frameRef, atol: 1e-3)
            #expect(frames.violations == 0, "\(audio): \(frames)")
            let ts = Numerics.compare(
                "timestamps", embedding.timestampsMs, try expected.array("frame_timestamps_ms.\(audio)"), atol: 1e-2)
            #expect(ts.violations == 0, "\(audio): \(ts)")
        }
    }

    @Test func withoutLabelsTheClassesAreIndexNamesAndTheImportWarns() throws {
        let (model, stderr) = try imported(labels: false)
        #expect(stderr.contains("no --labels") && stderr.contains("class_labels_indices.csv"))
        let head = try ProbeHead.load(model + "/heads/audioset.safetensors")
        #expect(head.labels == (0..<7).map { String($0) })
        // The file has no names, so the server that loads it warns too.
        #expect(head.labelsWarning?.contains("no 'labels' metadata") == true)
    }

    @Test func badLabelsAndHeadlessCheckpointsAreClearErrors() throws {
        let dir = Fixtures.temporaryDirectory()
        let short = dir + "/short.csv"
        try "index,mid,display_name\n0,/m/09x0r,Speech\n".write(toFile: short, atomically: true, encoding: .utf8)
        let r1 = try CommandRunner.run("m2d-train", ["import", Self.pth, "--out", dir + "/m1", "--labels", short])
        #expect(r1.status != 0 && r1.stderr.contains("name 1 classes; the checkpoint's head has 7"), "\(r1.stderr)")
        let wrong = dir + "/wrong.csv"
        try "file,label\na.wav,x\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        let r2 = try CommandRunner.run("m2d-train", ["import", Self.pth, "--out", dir + "/m2", "--labels", wrong])
        #expect(r2.status != 0 && r2.stderr.contains("index,mid,display_name"), "\(r2.stderr)")
        let encoderOnly = Fixtures.families + "/l1001/m2d_vit_base-80x1001p16x16-221006-mr7/checkpoint-300.pth"
        let r3 = try CommandRunner.run(
            "m2d-train", ["import", encoderOnly, "--out", dir + "/m3", "--labels", Self.folder + "/labels.csv"])
        #expect(r3.status != 0 && r3.stderr.contains("has no task head"), "\(r3.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/m3"))
    }

    @Test func configNamesTheSizesOfAnUnofficiallyNamedCheckpoint() throws {
        let dir = Fixtures.temporaryDirectory()
        let renamed = dir + "/my-finetune/best.pth"
        try FileManager.default.createDirectory(atPath: dir + "/my-finetune", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: Fixtures.families + "/l1001/m2d_vit_base-80x1001p16x16-221006-mr7/checkpoint-300.pth",
            toPath: renamed)
        let plain = try CommandRunner.run("m2d-train", ["import", renamed, "--out", dir + "/a"])
        #expect(plain.status != 0 && plain.stderr.contains("--config 80x608p16x16"), "\(plain.stderr)")
        let bad = try CommandRunner.run("m2d-train", ["import", renamed, "--out", dir + "/b", "--config", "80by1001"])
        #expect(bad.status != 0 && bad.stderr.contains("not in the official pattern"), "\(bad.stderr)")
        let r = try CommandRunner.run(
            "m2d-train", ["import", renamed, "--out", dir + "/c", "--config", "80x1001p16x16"])
        #expect(r.status == 0, "\(r.stderr)")
        let config = try ModelDirectory.load(dir + "/c").config
        #expect(config.inputSize == [80, 1001] && config.patchSize == [16, 16] && config.sampleRate == 16000)
        // A --config that contradicts an official folder name is refused, not silently preferred.
        let official = Fixtures.families + "/l1001/m2d_vit_base-80x1001p16x16-221006-mr7/checkpoint-300.pth"
        let conflict = try CommandRunner.run(
            "m2d-train", ["import", official, "--out", dir + "/d", "--config", "80x608p16x16"])
        #expect(conflict.status != 0 && conflict.stderr.contains("contradicts the folder name"), "\(conflict.stderr)")
    }
}

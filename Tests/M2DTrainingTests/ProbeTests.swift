// Linear probe training (EVAR protocol), metrics, standardization, head files, the probe/eval CLIs.
import Foundation
import M2DModel
import M2DTensor
import M2DTraining
import Testing
import TestSupport

@Suite struct ProbeTests {
    func blobs(_ n: Int, seed: UInt64) -> ProbeData {
        var rng = Rng(seed: seed)
        var x: [Float] = [], t: [[Int]] = []
        for i in 0..<n {
            let c = i % 3
            for d in 0..<8 { x.append(rng.normal() * 0.3 + (d == c ? 2 : 0)) }
            t.append([c])
        }
        return ProbeData(features: x, dim: 8, targets: t)
    }

    @Test func learnsASeparableTaskReproducibly() {
        var config = LinearProbe.Config()
        config.learningRate = 1e-2
        var a = LinearProbe(classes: 3, dim: 8, multiLabel: false, seed: 42)
        let outcome = a.fit(train: blobs(90, seed: 1), valid: blobs(30, seed: 2), config: config)
        #expect(a.metric(blobs(30, seed: 3)) == 1.0)
        #expect(outcome.lossHistory.first! > outcome.lossHistory.last!)
        var b = LinearProbe(classes: 3, dim: 8, multiLabel: false, seed: 42)
        _ = b.fit(train: blobs(90, seed: 1), valid: blobs(30, seed: 2), config: config)
        #expect(a.parameters == b.parameters)
    }

    @Test func lossGradientMatchesFiniteDifferences() {
        let z: [Float] = [0.3, -1.2, 2.0, 0.5, 0.1, -0.4]
        for multi in [false, true] {
            let targets: ArraySlice<[Int]> = multi ? [[0, 2], [1]] : [[2], [0]]
            let (_, g) = LinearProbeTestAccess.lossGradient(z, targets, classes: 3, multiLabel: multi)
            for i in 0..<z.count {
                var up = z, down = z
                up[i] += 1e-3; down[i] -= 1e-3
                let numeric =
                    (LinearProbeTestAccess.lossGradient(up, targets, classes: 3, multiLabel: multi).0
                        - LinearProbeTestAccess.lossGradient(down, targets, classes: 3, multiLabel: multi).0) / 2e-3
                #expect(abs(Double(g[i]) - numeric) < 1e-5, "multi=\(multi) i=\(i) \(g[i]) vs \(numeric)")
            }
        }
    }

    @Test func metrics() {
        let z: [Float] = [0.9, 0.1, 0.2, 0.8, 0.6, 0.4]
        #expect(ProbeMetrics.accuracy(z, [[0], [1], [1]], classes: 2) == 2.0 / 3)
        // Class 0 positives {0,2}: ranking 0.9(p),0.6(p),0.2 -> AP 1; class 1 positives {1}: 0.8(p) first -> 1.
        #expect(ProbeMetrics.meanAveragePrecision(z, [[0], [1], [0]], classes: 2) == 1)
        // Class 0: positive row 1 ranked last of three -> AP 1/3. Class 1: positives rows 0 and 2
        // ranked 1st and 3rd -> AP (1 + 2/3) / 2.
        let ap = ProbeMetrics.meanAveragePrecision([0.9, 0.3, 0.1, 0.2, 0.5, 0.1], [[1], [0], [1]], classes: 2)
        #expect(abs(ap - (1.0 / 3 + (1 + 2.0 / 3) / 2) / 2) < 1e-12)
    }

    @Test func standardizerUsesPopulationStd() {
        let s = Standardizer(fitting: [[1, 5], [3, 5]])
        #expect(s.mean == [2, 5] && s.scale == [1, 1])
        #expect(s.apply([4, 6]) == [2, 1])
    }

    @Test func headFilesRoundTrip() throws {
        let head = ProbeHead(
            name: "h", labels: ["a", "b"], multiLabel: false, weight: [1, 2, 3, 4], bias: [0.5, -0.5],
            mean: [1, 1], scale: [2, 2], report: ["task": "t", "metric": "accuracy"])
        let path = Fixtures.temporaryDirectory() + "/heads/h.safetensors"
        try head.write(to: path)
        let back = try ProbeHead.load(path)
        #expect(
            back.labels == ["a", "b"] && back.weight == head.weight && back.bias == head.bias
                && back.report["task"] == "t")
        let s = back.scores([3, 5])  // standardized [1, 2]: logits [5.5, 10.5]
        #expect(abs(Double(s[1]) - 1 / (1 + exp(-5.0))) < 1e-6)
    }

    @Test func probeCLIWritesAHeadAndIsReproducible() throws {
        let dir = Fixtures.temporaryDirectory()
        let csv = try TestAudio.toneTask(in: dir + "/tones")
        let model = Fixtures.golden + "/tiny_208/model"
        let r1 = try CommandRunner.run(
            "m2d-train",
            ["probe", "--model", model, "--labels", csv, "--out", dir + "/heads/tones", "--learning-rate", "1e-3"])
        #expect(r1.status == 0, "\(r1.stderr)")
        #expect(r1.stdoutText.contains("test accuracy") && r1.stdoutText.contains("confusion"))
        let head = try ProbeHead.load(dir + "/heads/tones.safetensors")
        #expect(head.labels == ["tone1200", "tone300", "tone4000"])
        #expect(Double(head.report["test_accuracy"] ?? "0")! >= 0.8)
        let r2 = try CommandRunner.run(
            "m2d-train",
            ["probe", "--model", model, "--labels", csv, "--out", dir + "/heads/again", "--learning-rate", "1e-3"])
        #expect(r2.status == 0)
        #expect(try ProbeHead.load(dir + "/heads/again.safetensors").weight == head.weight)
        #expect(FileManager.default.fileExists(atPath: dir + "/heads/tones.embeddings-cache"))
        // The heads folder then loads as heads (the cache and report are not heads).
        let config = try ModelDirectory.load(model).config
        #expect(try ProbeHead.loadAll(modelDirectory: dir, config: config).keys.sorted() == ["again", "tones"])
    }

    @Test func evalCLIPrintsATableWithTheBaseline() throws {
        let dir = Fixtures.temporaryDirectory()
        let csv = try TestAudio.toneTask(in: dir + "/tones", valid: false)
        let r = try CommandRunner.run(
            "m2d-train",
            [
                "eval", "--model", Fixtures.golden + "/tiny_208/model", "--baseline", "logmel",
                "--cache", dir + "/cache", csv,
            ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdoutText.contains("| baseline logmel | task | accuracy |") && r.stdoutText.contains("average"))
    }

    /// A task CSV named without a folder (run from its own folder) resolves its files beside it, and
    /// `--split valid` scores the validation split, for choosing checkpoints without the test split.
    @Test func evalScoresTheValidSplitOfABareRelativeCSV() throws {
        let dir = Fixtures.temporaryDirectory()
        _ = try TestAudio.toneTask(in: dir, train: 4)
        let model = Fixtures.golden + "/tiny_208/model"
        let valid = try CommandRunner.run(
            "m2d-train",
            ["eval", "--model", model, "--split", "valid", "--seeds", "42", "--cache", "cache", "task.csv"],
            directory: dir)
        #expect(valid.status == 0, "\(valid.stderr)")
        #expect(!valid.stderr.contains("unreadable"), "\(valid.stderr)")
        #expect(valid.stdoutText.contains("| task | accuracy (valid) |"), "\(valid.stdoutText)")
        let bad = try CommandRunner.run(
            "m2d-train", ["eval", "--model", model, "--split", "train", "task.csv"], directory: dir)
        #expect(bad.status != 0 && bad.stderr.contains("--split"))
    }

    /// eval takes --backend and --precision like m2d-embed: both fp32 backends give the same scores,
    /// and bf16 on OpenBLAS is refused with a message that names the fix.
    @Test func evalRunsOnEitherBackend() throws {
        let dir = Fixtures.temporaryDirectory()
        _ = try TestAudio.toneTask(in: dir, train: 4)
        let model = Fixtures.golden + "/tiny_208/model"
        let tables = try ["openblas", "onednn"].map { backend in
            let r = try CommandRunner.run(
                "m2d-train",
                [
                    "eval", "--model", model, "--backend", backend, "--seeds", "42",
                    "--cache", "cache-\(backend)", "task.csv",
                ], directory: dir)
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdoutText
        }
        #expect(tables[0] == tables[1] && tables[0].contains("| task | accuracy |"), "\(tables)")
        let bad = try CommandRunner.run(
            "m2d-train", ["eval", "--model", model, "--backend", "openblas", "--precision", "bf16", "task.csv"],
            directory: dir)
        #expect(bad.status != 0 && bad.stderr.contains("onednn"), "\(bad.stderr)")
    }
}

/// Reaches the internal loss of LinearProbe for the gradient check.
enum LinearProbeTestAccess {
    static func lossGradient(_ z: [Float], _ t: ArraySlice<[Int]>, classes: Int, multiLabel: Bool) -> (Double, [Float])
    {
        LinearProbe.lossGradient(z, t, classes: classes, multiLabel: multiLabel)
    }
}

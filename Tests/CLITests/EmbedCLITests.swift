// m2d-embed end to end: real binary, real files, JSON lines and .npy outputs, failures reported.
import Foundation
import M2DAudio
import M2DCheckpoint
import M2DModel
import M2DTensor
import Testing
import TestSupport

@Suite struct EmbedCLITests {
    let model = Fixtures.golden + "/tiny_208/model"
    let audio = Fixtures.golden + "/audio"

    @Test func jsonLinesMatchTheLibraryInInputOrder() throws {
        let files = ["\(audio)/ten_sec_mod.wav", "\(audio)/short_chirp.wav"]
        let result = try CommandRunner.run("m2d-embed", ["--model", model, "--frames"] + files)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdoutText.split(separator: "\n")
        #expect(lines.count == 2)
        // The library as m2d-embed runs it: its default engine owns the weights and may run the fused encoder
        // (sums ordered unlike OpenBLAS's), and then leaves OpenBLAS one thread for the front end (OpenBLAS's
        // sums depend on its thread count). The CLI must add nothing of its own.
        let engine = try GEMMEngine(backend: .auto, ownsWeights: true)
        engine.leaveOpenBLASToTheFrontEnd()
        let loaded = try ModelDirectory.load(model, engine: engine)
        let embedder = AudioEmbedder(weights: loaded.weights, engine: engine)
        for (line, file) in zip(lines, files) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["file"] as? String == file)
            let embedding = try #require((object["embedding"] as? [NSNumber])?.map(\.floatValue))
            let frames = try #require(object["frames"] as? [[NSNumber]])
            let timestamps = try #require((object["timestamps_ms"] as? [NSNumber])?.map(\.floatValue))
            let reference = try embedder.embed(
                try AudioPipeline.prepare(Fixtures.bytes(file), sampleRate: 16000).samples)
            let cmp = Numerics.compare("clip", embedding, reference.clip, atol: 1e-6, rtol: 1e-6)
            #expect(cmp.violations == 0, "\(cmp)")
            #expect(frames.count == reference.frameCount && frames[0].count == 960)
            #expect(timestamps == reference.timestampsMs)
        }
    }

    /// --shard I/N: the N shards of a folder are disjoint, cover it, keep the walk's order and each
    /// takes every N-th input from I; a malformed shard is a usage error.
    @Test func shardsSplitTheInputsExactly() throws {
        var seen: [String] = []
        for i in 0..<3 {
            let result = try CommandRunner.run("m2d-embed", ["--model", model, "--shard", "\(i)/3", audio])
            #expect(result.status == 0, "\(result.stderr)")
            let files = try result.stdoutText.split(separator: "\n").map { line -> String in
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                #expect((object["duration_seconds"] as? Double ?? 0) > 0)
                return ((object["file"] as? String ?? "") as NSString).lastPathComponent
            }
            seen += files
            let all = [
                "exact608_noise.wav", "five_sec_tone_noise.wav", "short_chirp.wav", "silence_click.wav",
                "ten_sec_mod.wav",
            ]
            #expect(files == all.enumerated().filter { $0.offset % 3 == i }.map(\.element))
        }
        #expect(seen.sorted().count == 5 && Set(seen).count == 5)
        for bad in ["3/3", "1", "-1/2", "a/b", "0/0"] {
            let result = try CommandRunner.run("m2d-embed", ["--model", model, "--shard", bad, audio])
            #expect(result.status != 0 && result.stderr.contains("--shard"), "--shard \(bad): \(result.stderr)")
        }
    }

    @Test func folderIsWalkedInSortedOrderToNpy() throws {
        let out = Fixtures.temporaryDirectory() + "/emb.npy"
        let result = try CommandRunner.run("m2d-embed", ["--model", model, "--format", "npy", "--out", out, audio])
        #expect(result.status == 0, "\(result.stderr)")
        let npy = try #require(NpyFile.decode(try Data(contentsOf: URL(fileURLWithPath: out))))
        #expect(npy.shape == [5, 960])
        let names = try String(
            contentsOfFile: out.replacingOccurrences(of: ".npy", with: ".files.txt"), encoding: .utf8
        )
        .split(separator: "\n").map { ($0 as NSString).lastPathComponent }
        #expect(
            names == [
                "exact608_noise.wav", "five_sec_tone_noise.wav", "short_chirp.wav", "silence_click.wav",
                "ten_sec_mod.wav",
            ])
    }

    @Test func aFailingFileIsReportedAndTheRestStillRun() throws {
        let dir = Fixtures.temporaryDirectory()
        try Data("not audio".utf8).write(to: URL(fileURLWithPath: dir + "/broken.wav"))
        let result = try CommandRunner.run(
            "m2d-embed", ["--model", model, dir + "/broken.wav", "\(audio)/short_chirp.wav"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("broken.wav") && result.stderr.contains("could not be decoded"))
        #expect(result.stdoutText.split(separator: "\n").count == 1)
    }

    @Test func missingModelIsAClearError() throws {
        let result = try CommandRunner.run("m2d-embed", ["--model", "/nonexistent", "\(audio)/short_chirp.wav"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("no model at /nonexistent") && result.stderr.contains("--model"))
    }

    @Test func npyWithoutOutIsRefusedAndHelpWorks() throws {
        let bad = try CommandRunner.run("m2d-embed", ["--model", model, "--format", "npy", "\(audio)/short_chirp.wav"])
        #expect(bad.status != 0 && bad.stderr.contains("--out"))
        let help = try CommandRunner.run("m2d-embed", ["--help"])
        #expect(help.status == 0 && help.stdoutText.contains("--frames"))
    }

    /// The .pth of the hardening issue: a pickle nesting 40,000 tuples ended m2d-embed in SIGSEGV.
    @Test func hostilePthIsAClearErrorNotACrash() throws {
        let dir = Fixtures.temporaryDirectory() + "/m2d_vit_base-80x608p16x16-evil"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let pickle: [UInt8] = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: 40_000) + [0x2E]
        try Data(ZipWriter.archive([("archive/data.pkl", pickle)])).write(
            to: URL(fileURLWithPath: dir + "/checkpoint-300.pth"))
        let result = try CommandRunner.run(
            "m2d-embed", ["--model", dir + "/checkpoint-300.pth", "\(audio)/short_chirp.wav"])
        #expect(result.status == 1, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains("nests deeper than 256"), "\(result.stderr)")
    }
}

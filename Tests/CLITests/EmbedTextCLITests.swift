// m2d-embed --text / --text-file: the real binary against the library on the official-layout M2D-CLAP fixture.
import Foundation
import M2DCheckpoint
import M2DTensor
import M2DText
import Testing
import TestSupport

@Suite struct EmbedTextCLITests {
    static func textModel() throws -> String {
        let official = Fixtures.root + "/text/official"
        let pth = official + "/clap2025/m2d_clap_vit_base-80x608p16x16p16kpBpTI-2025/checkpoint-300.pth"
        let dir = Fixtures.temporaryDirectory()
        _ = try TextImport.fromCheckpoint(
            try PyTorchCheckpoint(path: pth), path: pth, vocabulary: official + "/vocab.txt", folder: nil, heads: nil,
            out: dir)
        return dir
    }

    @Test func textsMatchTheLibraryInOrder() throws {
        let dir = try Self.textModel()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/texts.txt"
        try "church bells ring\n\n  \nthe sea\n".write(toFile: file, atomically: true, encoding: .utf8)
        let result = try CommandRunner.run("m2d-embed", ["--model", dir, "--text", "a dog barks", "--text-file", file])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdoutText.split(separator: "\n")
        let texts = ["a dog barks", "church bells ring", "the sea"]
        #expect(lines.count == 3)
        // The library on m2d-embed's engine (oneDNN where it loads): the CLI adds nothing of its own.
        let engine = try? GEMMEngine(backend: .onednn, ownsWeights: true, fusedThreads: 2)
        let reference = try #require(try TextModel.load(modelDirectory: dir, engine: engine)).embed(texts)
        for (i, line) in lines.enumerated() {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["text"] as? String == texts[i])
            let got = try #require((object["embedding"] as? [NSNumber])?.map(\.floatValue))
            let want = Array(UnsafeBufferPointer(start: reference.pointer + i * 128, count: 128))
            let cmp = Numerics.compare("text \(i)", got, want, atol: 1e-6, rtol: 1e-6)
            #expect(cmp.violations == 0, "\(cmp)")
        }
        let npy = dir + "/out.npy"
        let saved = try CommandRunner.run(
            "m2d-embed", ["--model", dir, "--text", "rain", "--text", "wind", "--format", "npy", "--out", npy])
        #expect(saved.status == 0, "\(saved.stderr)")
        #expect(NpyFile.decode(try Data(contentsOf: URL(fileURLWithPath: npy)))?.shape == [2, 128])
        #expect(try String(contentsOfFile: dir + "/out.texts.txt", encoding: .utf8) == "rain\nwind\n")
    }

    @Test func badTextRequestsAreClearErrors() throws {
        let dir = try Self.textModel()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let long = Array(repeating: "dog", count: 60).joined(separator: " ")
        let tooLong = try CommandRunner.run("m2d-embed", ["--model", dir, "--text", long])
        #expect(tooLong.status == 1 && tooLong.stderr.contains("62 tokens") && tooLong.stderr.contains("--truncate"))
        #expect(try CommandRunner.run("m2d-embed", ["--model", dir, "--text", long, "--truncate"]).status == 0)
        let both = try CommandRunner.run("m2d-embed", ["--model", dir, "--text", "x", "a.wav"])
        #expect(both.status != 0 && both.stderr.contains("not both"), "\(both.stderr)")
        let noText = try CommandRunner.run(
            "m2d-embed", ["--model", Fixtures.golden + "/tiny_208/model", "--text", "rain"])
        #expect(noText.status == 1 && noText.stderr.contains("--text-vocab"), "\(noText.stderr)")
    }
}

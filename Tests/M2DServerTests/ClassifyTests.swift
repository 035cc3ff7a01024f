// POST /classify with probe heads from <model>/heads/, against a real daemon.
import Foundation
import M2DModel
import M2DServer
import M2DTensor
import Testing
import TestSupport

@Suite(.serialized) struct ClassifyTests {
    /// A copy of the tiny golden model with one random head ("tones", 3 labels).
    func modelWithHead() throws -> String {
        let dir = Fixtures.temporaryDirectory() + "/model"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: TestServer.tinyModel + "/" + f, toPath: dir + "/" + f)
        }
        try randomHead("tones", labels: ["low", "mid", "high"], seed: 1).write(to: dir + "/heads/tones.safetensors")
        return dir
    }

    func randomHead(_ name: String, labels: [String], seed: UInt64) -> ProbeHead {
        var rng = Rng(seed: seed)
        let dim = 960
        return ProbeHead(
            name: name, labels: labels, multiLabel: false,
            weight: (0..<(labels.count * dim)).map { _ in rng.normal() * 0.05 }, bias: labels.map { _ in rng.normal() },
            mean: (0..<dim).map { _ in rng.normal() * 0.1 }, scale: (0..<dim).map { _ in 1 + rng.uniform() },
            report: ["task": name, "metric": "accuracy", "test_accuracy": "0.9"])
    }

    @Test func scoresEqualADirectComputationFromOfflineEmbeddings() throws {
        let model = try modelWithHead()
        let file = Fixtures.golden + "/audio/five_sec_tone_noise.wav"
        let cli = try CommandRunner.run("m2d-embed", ["--model", model, file])
        let line = try #require(try JSONSerialization.jsonObject(with: cli.stdout) as? [String: Any])
        let embedding = try #require(floats(line["embedding"]))
        let head = try ProbeHead.load(model + "/heads/tones.safetensors")
        let expected = head.scores(embedding)
        try TestServer.with(model: model) { s in
            let r = try s.post("/classify", contentType: "audio/wav", body: audio("five_sec_tone_noise"))
            #expect(r.status == 200, "\(r.text)")
            let ranked = try #require(r.jsonArray as? [[String: Any]])
            #expect(ranked.count == 3)
            let scores = ranked.compactMap { ($0["score"] as? NSNumber)?.floatValue }
            #expect(scores == scores.sorted(by: >))
            for item in ranked {
                let label = try #require(item["label"] as? String),
                    score = try #require((item["score"] as? NSNumber)?.floatValue)
                let i = try #require(head.labels.firstIndex(of: label))
                #expect(abs(score - expected[i]) <= 1e-5, "\(label): \(score) vs \(expected[i])")
            }
            // top_k and raw logits.
            let top = try s.post(
                "/classify?top_k=1&function_to_apply=none", contentType: "audio/wav", body: audio("five_sec_tone_noise")
            )
            let best = try #require((top.jsonArray as? [[String: Any]])?.first)
            let logits = head.logits(embedding)
            #expect((top.jsonArray?.count ?? 0) == 1)
            #expect(abs(((best["score"] as? NSNumber)?.floatValue ?? 0) - (logits.max() ?? 0)) <= 1e-4)
            // A batch answers a list of lists.
            let batch = try s.postFiles(
                "/classify", [("a.wav", audio("short_chirp")), ("b.wav", audio("ten_sec_mod"))])
            #expect((batch.jsonArray as? [[[String: Any]]])?.count == 2)
            let info = try s.get("/info")
            let heads = try #require(info.json?["heads"] as? [[String: Any]])
            #expect(
                heads.first?["name"] as? String == "tones"
                    && (heads.first?["labels"] as? [String]) == ["low", "mid", "high"])
            #expect(heads.first?["reported_score"] as? Double == 0.9)
        }
    }

    @Test func headSelectionAndReload() throws {
        let model = try modelWithHead()
        try TestServer.with(model: model) { s in
            let wav = audio("short_chirp")
            #expect(try s.post("/classify", contentType: "audio/wav", body: wav).status == 200)
            try randomHead("birds", labels: ["crow", "gull"], seed: 2).write(to: model + "/heads/birds.safetensors")
            try s.runner.reloadHeads()
            expectError(
                try s.post("/classify", contentType: "audio/wav", body: wav), 422, "validation",
                contains: "birds, tones")
            let birds = try s.post("/classify?head=birds", contentType: "audio/wav", body: wav)
            #expect(birds.status == 200 && (birds.jsonArray?.count ?? 0) == 2)
            let json = try s.postJSON(
                "/classify", ["inputs": Data(wav).base64EncodedString(), "parameters": ["head": "tones", "top_k": 2]])
            #expect(json.status == 200 && (json.jsonArray?.count ?? 0) == 2)
            expectError(
                try s.post("/classify?head=fish", contentType: "audio/wav", body: wav), 404, "not_found",
                contains: "fish")
            expectError(
                try s.post("/classify?head=birds&top_k=0", contentType: "audio/wav", body: wav), 422, "validation")
            expectError(
                try s.post("/classify?head=birds&function_to_apply=relu", contentType: "audio/wav", body: wav), 422,
                "validation")
        }
    }
}

// The M2D-CLAP text side against a real daemon: /v1/embeddings with modality text and /embed/text against the
// official encode_clap_text, zero-shot /classify against the official cosine similarities, the limits and
// errors, and text requests beside a long audio request on the shared scheduler.
import Foundation
import M2DCheckpoint
import M2DModel
import M2DServer
import M2DTensor
import M2DText
import Testing
import TestSupport

enum CLAPFixture {
    static let official = Fixtures.root + "/text/official"
    static let cases = [
        ("clap2025", "m2d_clap_vit_base-80x608p16x16p16kpBpTI-2025", false),
        ("clap2024", "m2d_clap_vit_base-80x608p16x16-240128", true),
    ]

    /// A model directory imported as m2d-train import does: encoder, audio projection, text side.
    static func model(_ name: String, _ folder: String, external: Bool) throws -> String {
        let pth = "\(official)/\(name)/\(folder)/checkpoint-300.pth"
        let dir = Fixtures.temporaryDirectory() + "/" + name
        let loaded = try OfficialCheckpoint.load(pth)
        try ModelDirectory.write(loaded.weights, to: dir, dtype: .f32)
        try #require(try AudioProjection.official(pth, dim: 128)).write(toModel: dir)
        _ = try TextImport.fromCheckpoint(
            try PyTorchCheckpoint(path: pth), path: pth, vocabulary: external ? nil : official + "/vocab.txt",
            folder: external ? "\(official)/\(name)/gte" : nil, heads: nil, out: dir)
        return dir
    }

    struct Texts: Decodable {
        let texts: [String]
        let labels: [String]
        let audio: [String]
    }

    static func texts() throws -> Texts {
        try JSONDecoder().decode(Texts.self, from: Data(contentsOf: URL(fileURLWithPath: official + "/texts.json")))
    }
}

/// An OpenAI-shaped error: {"error": {"message", "type", "param", "code"}}.
func expectOpenAIError(
    _ r: TestResponse, _ status: Int, contains text: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    let error = r.json?["error"] as? [String: Any]
    #expect(r.status == status, "\(r.text)", sourceLocation: sourceLocation)
    #expect(error?["code"] as? Int == status, "\(r.text)", sourceLocation: sourceLocation)
    #expect((error?["message"] as? String)?.contains(text) == true, "\(r.text)", sourceLocation: sourceLocation)
}

@Suite(.serialized) struct TextRouteTests {
    @Test(arguments: CLAPFixture.cases)
    func textEmbeddingsAndZeroShotMatchTheOfficialRuntime(name: String, folder: String, external: Bool) throws {
        let dir = try CLAPFixture.model(name, folder, external: external)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let texts = try CLAPFixture.texts()
        let expected = try SafeTensorsFile(path: "\(CLAPFixture.official)/\(name)/expected.safetensors")
        let reference = try expected.array("text")
        try TestServer.with(model: dir) { s in
            let openAI = try s.postJSON("/v1/embeddings", ["input": texts.texts, "modality": "text"])
            #expect(openAI.status == 200, "\(openAI.text)")
            let native = try s.postJSON("/embed/text", ["inputs": texts.texts])
            #expect(native.status == 200 && native.json?["dim"] as? Int == 128, "\(native.text)")
            for got in [embeddings(openAI), embeddings(native)] {
                #expect(got.count == texts.texts.count)
                for (i, row) in got.enumerated() {
                    let want = Array(reference[(i * 128)..<((i + 1) * 128)])
                    let scale = want.map(abs).max() ?? 1  // max abs within 1e-3 of the text's largest value
                    let cmp = Numerics.compare("text \(i)", row, want, atol: 1e-3 * Double(scale), rtol: 0)
                    #expect(cmp.cosine >= 0.99999 && cmp.violations == 0, "\(name): \(cmp)")
                }
            }
            let usage = try #require(openAI.json?["usage"] as? [String: Any])
            #expect((usage["prompt_tokens"] as? Int ?? 0) > texts.texts.count * 2)
            // Zero-shot, raw cosines: each audio input against the official scores; JSON and form bodies agree.
            let scores = try expected.array("scores")
            for (a, clip) in texts.audio.enumerated() {
                let wav = audio(clip)
                let json = try s.postJSON(
                    "/classify",
                    [
                        "inputs": Data(wav).base64EncodedString(), "candidate_labels": texts.labels,
                        "function_to_apply": "none",
                    ])
                let form = try s.postFiles(
                    "/classify", [(clip + ".wav", wav)],
                    fields: texts.labels.map { ("candidate_labels", $0) } + [("function_to_apply", "none")])
                for r in [json, form] {
                    #expect(r.status == 200, "\(r.text)")
                    let ranked = try #require(r.jsonArray as? [[String: Any]])
                    #expect(ranked.count == texts.labels.count)
                    let got = Dictionary(
                        uniqueKeysWithValues: ranked.map {
                            ($0["label"] as! String, ($0["score"] as! NSNumber).floatValue)
                        })
                    for (l, label) in texts.labels.enumerated() {
                        let want = scores[a * texts.labels.count + l]
                        #expect(
                            abs((got[label] ?? 9) - want) <= 1e-4,
                            "\(name) \(clip) \(label): \(got[label] ?? 9) vs \(want)")
                    }
                    let values = ranked.map { ($0["score"] as! NSNumber).floatValue }
                    #expect(values == values.sorted(by: >))
                }
            }
            // The default: a softmax over the raw cosines, sorted; top_k keeps the best.
            let soft = try s.postFiles(
                "/classify", [("c.wav", audio("ten_sec_mod"))],
                fields: texts.labels.map { ("candidate_labels", $0) } + [("top_k", "3")])
            let top = try #require(soft.jsonArray as? [[String: Any]])
            #expect(top.count == 3 && top.allSatisfy { (($0["score"] as? NSNumber)?.floatValue ?? 0) > 0 })
            let all = try #require(
                try s.postFiles(
                    "/classify", [("c.wav", audio("ten_sec_mod"))],
                    fields: texts.labels.map { ("candidate_labels", $0) }
                ).jsonArray as? [[String: Any]])
            #expect(abs(all.reduce(0) { $0 + (($1["score"] as? NSNumber)?.doubleValue ?? 0) } - 1) < 1e-5)
            let info = try #require(try s.get("/info").json?["text_encoder"] as? [String: Any])
            #expect(info["pooling"] as? String == (external ? "mean" : "cls") && info["dim"] as? Int == 128)
            #expect((info["cached_labels"] as? Int ?? 0) >= texts.labels.count)
            let metrics = try s.get("/metrics").text
            #expect(metrics.contains("m2d_text_requests_total"))
        }
    }

    /// --text-precision bf16 (where the CPU has AVX512-BF16): within its accuracy gate of the official values.
    @Test func bf16TextPrecisionStaysNearTheOfficialValues() throws {
        guard GEMMEngine.oneDNNSupports(.bf16) else { return }
        let dir = try CLAPFixture.model("clap2025", CLAPFixture.cases[0].1, external: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let texts = try CLAPFixture.texts()
        let expected = try SafeTensorsFile(path: "\(CLAPFixture.official)/clap2025/expected.safetensors")
        let reference = try expected.array("text")
        try TestServer.with(model: dir, configure: { $0.textPrecision = .bf16 }) { s in
            let r = try s.postJSON("/embed/text", ["inputs": texts.texts])
            #expect(r.status == 200, "\(r.text)")
            // bf16's gate is the cosine alone (docs/TEXT.md); elementwise it is bf16-rounded.
            let got = embeddings(r)
            #expect(got.count == texts.texts.count)
            for (i, row) in got.enumerated() {
                let cosine = Numerics.cosine(row[...], reference[(i * 128)..<((i + 1) * 128)])
                #expect(cosine >= 0.999, "bf16, text \(i): cosine \(cosine)")
            }
            let info = try #require(try s.get("/info").json?["text_encoder"] as? [String: Any])
            #expect(info["precision"] as? String == "bf16")
        }
    }

    @Test func limitsAndErrorsAreClear() throws {
        let dir = try CLAPFixture.model("clap2025", CLAPFixture.cases[0].1, external: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TestServer.with(
            model: dir,
            configure: {
                $0.maxTexts = 4; $0.maxTextBytes = 300; $0.maxRequestTokens = 100
            }
        ) { s in
            let long = Array(repeating: "dog", count: 60).joined(separator: " ")
            expectOpenAIError(
                try s.postJSON("/v1/embeddings", ["input": ["rain", long], "modality": "text"]), 422,
                contains: "input[1] is 62 tokens")
            let cut = try s.postJSON("/embed/text", ["inputs": [long], "truncate": true])
            #expect(cut.status == 200 && embeddings(cut).count == 1, "\(cut.text)")
            #expect((cut.json?["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 40, "tokens after truncation")
            // Tokens of one request together: 3 texts of 40 are over 100.
            expectError(
                try s.postJSON("/embed/text", ["inputs": [long, long, long], "truncate": true]), 413,
                "payload_too_large", contains: "--max-request-tokens")
            expectError(
                try s.postJSON("/embed/text", ["inputs": [""]]), 422, "validation", contains: "inputs[0] is empty")
            expectError(try s.postJSON("/embed/text", ["inputs": [1, 2]]), 400, "invalid_request", contains: "string")
            expectError(
                try s.postJSON("/embed/text", ["inputs": ["a", "b", "c", "d", "e"]]), 413, "payload_too_large",
                contains: "--max-texts")
            expectError(
                try s.postJSON("/embed/text", ["inputs": [String(repeating: "a ", count: 200)]]), 413,
                "payload_too_large",
                contains: "--max-text-bytes")
            expectError(
                try s.postFiles(
                    "/classify", [("c.wav", audio("short_chirp"))],
                    fields: (0..<5).map { ("candidate_labels", "l\($0)") }), 413, "payload_too_large")
            expectError(
                try s.postFiles(
                    "/classify", [("c.wav", audio("short_chirp"))],
                    fields: [("candidate_labels", "dog"), ("hypothesis_template", "no placeholder")]), 422,
                "validation",
                contains: "{}")
            expectOpenAIError(
                try s.postJSON("/v1/embeddings", ["input": ["rain"], "modality": "video"]), 422, contains: "modality")
            expectOpenAIError(
                try s.postJSON("/v1/embeddings", ["input": ["rain"], "modality": "text", "dimensions": 64]), 422,
                contains: "dimensions must be 128")
            // One {} per template: a template that repeats the label would multiply every label's bytes.
            expectError(
                try s.postFiles(
                    "/classify", [("c.wav", audio("short_chirp"))],
                    fields: [("candidate_labels", "dog"), ("hypothesis_template", "{} and {}")]), 422, "validation",
                contains: "once")
            // modality=text on the audio route, in the query of a raw body too.
            expectError(
                try s.post("/embed?modality=text", contentType: "audio/wav", body: audio("short_chirp")), 422,
                "validation", contains: "/embed/text")
            // One form field of comma-separated labels, trimmed as transformers' pipeline does.
            let commas = try s.postFiles(
                "/classify", [("c.wav", audio("short_chirp"))], fields: [("candidate_labels", "dog, rain ,clock")])
            let labels = try #require(commas.jsonArray as? [[String: Any]]).compactMap { $0["label"] as? String }
            #expect(Set(labels) == ["dog", "rain", "clock"], "\(commas.text)")
            // candidate_labels: null is the default (no zero-shot): this model has no heads, so 404 says so.
            let wav = Data(audio("short_chirp")).base64EncodedString()
            expectError(
                try s.postJSON("/classify", ["inputs": wav, "candidate_labels": NSNull()]), 404, "not_found",
                contains: "no probe heads")
            expectError(
                try s.postJSON("/embed", ["inputs": ["rain"], "modality": "text"]), 422, "validation",
                contains: "/embed/text")
        }
        // A model without a text part: the error says what to import.
        try TestServer.with { s in
            expectOpenAIError(
                try s.postJSON("/v1/embeddings", ["input": "rain", "modality": "text"]), 404,
                contains: "m2d-train import")
            expectError(
                try s.postFiles("/classify", [("c.wav", audio("short_chirp"))], fields: [("candidate_labels", "dog")]),
                404, "not_found", contains: "m2d-train import")
            #expect(try s.get("/info").text.contains("\"text_encoder\":null"))
        }
    }

    /// SIGHUP keeps an unchanged text side (its packed weights and label cache) and loads a changed one.
    @Test func reloadKeepsAnUnchangedTextSide() throws {
        let dir = try CLAPFixture.model("clap2025", CLAPFixture.cases[0].1, external: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TestServer.with(model: dir) { s in
            #expect(try s.postJSON("/embed/text", ["inputs": ["rain", "a dog barks"]]).status == 200)
            let before = try #require(s.runner.app.registry.text)
            #expect(before.cache.count == 2)
            try s.runner.reloadHeads()
            #expect(s.runner.app.registry.text === before)
            // A rewritten file (a new import) is loaded again, with an empty cache.
            let vocab = dir + "/text/vocab.txt"
            let text = try String(contentsOfFile: vocab, encoding: .utf8)
            try FileManager.default.removeItem(atPath: vocab)
            try text.write(toFile: vocab, atomically: true, encoding: .utf8)
            try s.runner.reloadHeads()
            let after = try #require(s.runner.app.registry.text)
            #expect(after !== before && after.cache.count == 0)
            #expect(try s.postJSON("/embed/text", ["inputs": ["rain"]]).status == 200)
        }
    }

    /// And the reverse: a short audio request rides between the groups of a long text request (a trained MiniLM
    /// of scripts/text-fixtures.sh, 200 texts of 60 tokens: seconds of work) instead of waiting for it.
    @Test func audioIsNotStuckBehindLongText() throws {
        let dir = Fixtures.temporaryDirectory() + "/minilm-model"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: TestServer.tinyModel, toPath: dir)
        let folder = try Fixtures.generated("minilm")
        let (hf, tensors) = try TextImport.huggingFaceFolder(folder)
        let config = try TextImport.inferConfig(
            tensors, heads: hf.numAttentionHeads, pooling: .mean, source: folder, epsilon: hf.layerNormEps ?? 1e-12)
        try TextImport.write(config: config, tensors: tensors, vocabulary: folder + "/vocab.txt", to: dir)
        try TestServer.with(model: dir) { s in
            let caption = Array(repeating: "the dog barks at the door", count: 10).joined(separator: " ")
            let body = try JSONSerialization.data(withJSONObject: ["inputs": Array(repeating: caption, count: 200)])
            let long = BackgroundRequest(
                port: s.port, path: "/embed/text", headers: ["Content-Type": "application/json"], body: [UInt8](body))
            usleep(300_000)
            let start = Date()
            let r = try s.post("/embed", contentType: "audio/wav", body: audio("short_chirp"))
            let audioSeconds = Date().timeIntervalSince(start)
            #expect(r.status == 200, "\(r.text)")
            #expect(!long.isFinished, "the text request finished before the audio one was answered")
            #expect(audioSeconds < 1.5, "a short audio request took \(audioSeconds) s beside a long text request")
            let texts = try #require(long.wait())
            #expect(texts.status == 200 && embeddings(texts).count == 200, "\(texts.text.prefix(300))")
        }
    }

    /// Text requests ride between the batches of a long audio request instead of waiting for it.
    @Test func textIsNotStuckBehindLongAudio() throws {
        let dir = Fixtures.temporaryDirectory() + "/text-only"
        let full = try CLAPFixture.model("clap2025", CLAPFixture.cases[0].1, external: false)
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: full) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: full + "/text", toPath: dir + "/text")
        let engine = try StubEngine.tiny(delay: 0.05)
        try TestServer.with(
            engine: engine,
            configure: {
                $0.modelPath = dir; $0.maxBatchChunks = 2; $0.maxBatchDelayMs = 0
            }
        ) { s in
            let long = BackgroundRequest(port: s.port, body: TestAudio.longWAV(seconds: 200))  // ~50 batches, 2.5 s
            while engine.encodedChunks < 6 { usleep(5000) }
            let start = Date()
            for _ in 0..<3 {
                let r = try s.postJSON("/embed/text", ["inputs": ["a dog barks", "rain"]])
                #expect(r.status == 200, "\(r.text)")
            }
            let textSeconds = Date().timeIntervalSince(start)
            #expect(!long.isFinished, "the audio request finished before the texts were answered")
            #expect(textSeconds < 1.0, "three text requests took \(textSeconds) s beside the long audio request")
            #expect(long.wait()?.status == 200)
        }
    }
}

// Every route and every request form against a real daemon on loopback.
import Foundation
import M2DAudio
import M2DModel
import M2DServer
import Testing
import TestSupport

@Suite(.serialized) struct RouteTests {
    @Test func healthInfoModelsMetricsAndSpec() throws {
        try TestServer.with { s in
            // Exact bodies: healthy answers carry no error fields, not even null ones.
            #expect(try s.get("/health/live").text == #"{"status":"ok"}"#)
            #expect(try s.get("/health/ready").text == #"{"status":"ok"}"#)
            for path in ["/health/ready", "/health", "/readyz", "/livez", "/v2/health/ready"] {
                #expect(try s.get(path).status == 200, "\(path)")
            }
            let info = try s.get("/info")
            #expect(info.status == 200)
            #expect(info.json?["embedding_dim"] as? Int == 960)
            #expect(info.json?["model_id"] as? String == "golden_tiny_208-80x208p16x16")
            #expect((info.json?["model_sha"] as? String)?.count == 64)
            #expect(info.json?["chunk_seconds"] as? Double == 2.08)
            let models = try s.get("/v1/models")
            let data = models.json?["data"] as? [[String: Any]]
            #expect(
                data?.first?["id"] as? String == "golden_tiny_208-80x208p16x16"
                    && data?.first?["object"] as? String == "model")
            #expect(try s.get("/openapi.yaml").text.hasPrefix("openapi: 3"))
            let metrics = try s.get("/metrics")
            #expect(metrics.status == 200 && metrics.text.contains("m2d_ready 1"))
            #expect(try s.get("/nope").status == 404)
            let wrong = try s.get("/embed")
            #expect(wrong.status == 405 && wrong.headers["allow"] == "POST")
        }
    }

    @Test func everyRequestFormGivesTheSameEmbedding() throws {
        try TestServer.with { s in
            let wav = audio("five_sec_tone_noise")
            let multipart = embeddings(try s.postFiles("/embed", [("a.wav", wav)]))
            let raw = embeddings(try s.post("/embed", contentType: "audio/wav", body: wav))
            let octet = embeddings(try s.post("/embed", contentType: "application/octet-stream", body: wav))
            let b64 = Data(wav).base64EncodedString()
            let json = embeddings(try s.postJSON("/embed", ["inputs": b64]))
            let dataURI = embeddings(try s.postJSON("/embed", ["inputs": ["data:audio/wav;base64," + b64]]))
            let openAI = embeddings(
                try s.postJSON("/v1/embeddings", ["input": "data:audio/wav;base64," + b64, "model": "whatever"]))
            #expect(multipart.count == 1 && multipart[0].count == 960)
            for other in [raw, octet, json, dataURI, openAI] { #expect(other == multipart) }

            // OpenAI's usage has its two token counts only; ours adds the seconds of audio.
            let openAIUsage = try s.postJSON("/v1/embeddings", ["input": b64]).json?["usage"] as? [String: Any]
            #expect(openAIUsage.map { Set($0.keys) } == ["prompt_tokens", "total_tokens"])
            let usage = try s.postJSON("/embed", ["inputs": b64]).json?["usage"] as? [String: Any]
            #expect(usage.map { Set($0.keys) } == ["audio_seconds", "prompt_tokens", "total_tokens"])
        }
    }

    @Test func batchesOptionsAndFrames() throws {
        try TestServer.with { s in
            let r = try s.postFiles(
                "/embed", [("a.wav", audio("short_chirp")), ("b.wav", audio("ten_sec_mod"))],
                fields: [("granularity", "frames"), ("normalize", "true")])
            #expect(r.status == 200)
            let data = try #require(r.json?["data"] as? [[String: Any]])
            #expect(data.count == 2)
            let frames = try #require(data[1]["embedding"] as? [[NSNumber]])
            let stamps = try #require(floats(data[1]["timestamps_ms"]))
            #expect(frames.count == 63 && stamps.count == 63)
            let norm = frames[5].reduce(0.0) { $0 + Double(truncating: $1) * Double(truncating: $1) }
            #expect(abs(norm - 1) < 1e-4)
            #expect(data[1]["input_sample_rate"] as? Int == 16000 && data[1]["duration_seconds"] as? Double == 10)
            let usage = try #require(r.json?["usage"] as? [String: Any])
            #expect(usage["prompt_tokens"] as? Int == 4 + 63)
            #expect(
                r.headers["x-audio-seconds"] != nil && r.headers["x-inference-time"] != nil
                    && r.headers["x-request-id"] != nil)

            let b = try s.post("/embed?encoding_format=base64", contentType: "audio/wav", body: audio("short_chirp"))
            let encoded = try #require((b.json?["data"] as? [[String: Any]])?.first?["embedding"] as? String)
            let bytes = try #require(Data(base64Encoded: encoded))
            let decoded = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            #expect(
                decoded == embeddings(try s.post("/embed", contentType: "audio/wav", body: audio("short_chirp")))[0])
        }
    }

    @Test func embedMatchesTheOfflineCLI() throws {
        let file = Fixtures.golden + "/audio/ten_sec_mod.wav"
        let cli = try CommandRunner.run("m2d-embed", ["--model", TestServer.tinyModel, file])
        #expect(cli.status == 0, "\(cli.stderr)")
        let line = try #require(try JSONSerialization.jsonObject(with: cli.stdout) as? [String: Any])
        let offline = try #require(floats(line["embedding"]))
        try TestServer.with { s in
            let online = embeddings(try s.post("/embed", contentType: "audio/wav", body: audio("ten_sec_mod")))[0]
            #expect(Numerics.cosine(online[...], offline[...]) >= 0.99999)
            let cmp = Numerics.compare("server vs cli", online, offline, atol: 1e-5, rtol: 1e-5)
            #expect(cmp.violations == 0, "\(cmp)")
        }
    }

    @Test func thirtyTwoConcurrentClientsAreAllAnsweredCorrectly() throws {
        let model = try ModelDirectory.load(TestServer.tinyModel)
        let embedder = AudioEmbedder(weights: model.weights)
        let names = Fixtures.goldenAudio
        let expected = try names.map {
            try embedder.embed(try AudioPipeline.prepare(audio($0), sampleRate: 16000).samples).clip
        }
        try TestServer.with(configure: { $0.maxBatchDelayMs = 5 }) { s in
            let results = ResultBox(count: 32)
            DispatchQueue.concurrentPerform(iterations: 32) { i in
                let r = try? s.post("/embed", contentType: "audio/wav", body: audio(names[i % names.count]))
                results.set(i, r.map { ($0.status, embeddings($0).first ?? []) })
            }
            for i in 0..<32 {
                let (status, got) = try #require(results.get(i))
                #expect(status == 200)
                let cmp = Numerics.compare("client \(i)", got, expected[i % names.count], atol: 1e-5, rtol: 1e-5)
                #expect(cmp.violations == 0, "\(cmp)")
            }
        }
    }

    @Test func metricsCountersMove() throws {
        try TestServer.with { s in
            func value(_ text: String, _ prefix: String) -> Double {
                text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap {
                    Double($0.split(separator: " ").last ?? "")
                } ?? 0
            }
            let before = try s.get("/metrics").text
            _ = try s.post("/embed", contentType: "audio/wav", body: audio("short_chirp"))
            _ = try s.post("/embed", contentType: "text/plain", body: Array("x".utf8))
            let after = try s.get("/metrics").text
            let ok = #"m2d_requests_total{route="/embed",code="200"}"#
            #expect(value(after, ok) == value(before, ok) + 1)
            #expect(value(after, "m2d_audio_seconds_total") >= value(before, "m2d_audio_seconds_total") + 0.5)
            #expect(value(after, #"m2d_rejected_requests_total{reason="unsupported_media_type"}"#) >= 1)
            #expect(
                after.contains("m2d_inference_duration_seconds_bucket")
                    && after.contains("process_resident_memory_bytes"))
            #expect(after.contains("m2d_build_info{"))
            // Every sample line parses as `name{labels} value`.
            for line in after.split(separator: "\n") where !line.hasPrefix("#") {
                #expect(Double(line.split(separator: " ").last ?? "") != nil, "\(line)")
            }
        }
    }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [(Int, [Float])?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: (Int, [Float])?) { lock.withLock { values[i] = v } }
    func get(_ i: Int) -> (Int, [Float])? { lock.withLock { values[i] } }
}

@Suite struct OpenAPISpecTests {
    @Test func servedSpecIsTheRepositoryFile() throws {
        let root = URL(fileURLWithPath: Fixtures.root).deletingLastPathComponent().deletingLastPathComponent()
        let file = try String(contentsOf: root.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        try TestServer.with { s in
            let served = try s.get("/openapi.yaml")
            #expect(served.headers["content-type"] == "application/yaml")
            // A multi-line Swift string drops the file's final newline.
            #expect(
                served.text == file || served.text + "\n" == file,
                "the binary embeds Resources/openapi.yaml at build time: rebuild after editing it")
        }
    }

    @Test func specListsEveryRoute() throws {
        let root = URL(fileURLWithPath: Fixtures.root).deletingLastPathComponent().deletingLastPathComponent()
        let file = try String(contentsOf: root.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        for route in Route.allCases {
            #expect(file.contains("\n  \(route.rawValue):"), "\(route.rawValue) missing from openapi.yaml")
        }
    }
}

@Suite(.serialized) struct MultipartDeliveryTests {
    /// A field whose value reaches the server split across packets keeps its value: MHD may announce
    /// the field at offset 0 with no data, then again at offset 0 with the value (httpx's forms met this
    /// about 1 time in 3, and got 422 for their options).
    @Test(arguments: 0...4)
    func aFieldValueSplitAcrossPacketsIsKept(split: Int) throws {
        try TestServer.with { s in
            let wav = audio("five_sec_tone_noise"), boundary = "b0undary"
            let fieldHead = "--\(boundary)\r\nContent-Disposition: form-data; name=\"granularity\"\r\n\r\n"
            let fileHead =
                "\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n"
            let body = Array((fieldHead + "frames" + fileHead).utf8) + wav + Array("\r\n--\(boundary)--\r\n".utf8)
            let cut = fieldHead.utf8.count + split  // the first packet ends `split` bytes into the value
            let fd = try HTTPClient.connect(port: s.port)
            defer { close(fd) }
            HTTPClient.send(
                fd,
                Array(
                    ("POST /embed HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: multipart/form-data; "
                        + "boundary=\(boundary)\r\nContent-Length: \(body.count)\r\n\r\n").utf8) + body[..<cut])
            usleep(150_000)
            HTTPClient.send(fd, Array(body[cut...]))
            let r = try HTTPClient.parse(HTTPClient.readToEnd(fd) ?? [])
            #expect(r.status == 200, "\(r.text)")
            #expect(r.text.contains("timestamps_ms"), "granularity=frames was lost")
        }
    }
}

@Suite(.serialized) struct PrecisionServingTests {
    /// --precision int8 (docs/INT8.md): /info and the build-info metric say so, and the embedding
    /// stays within the int8 gate of the fp32 server's.
    @Test func anInt8ServerSaysSoAndStaysCloseToFP32() throws {
        let body = audio("ten_sec_mod")
        let fp32 = try TestServer.with { s in embeddings(try s.post("/embed", contentType: "audio/wav", body: body)) }
        try TestServer.with(configure: { $0.precision = .int8 }) { (s: TestServer) throws in
            let info = try s.get("/info").json
            let backend = info?["backend"] as? [String: Any]
            #expect(backend?["precision"] as? String == "int8")
            #expect((backend?["engine"] as? String)?.contains("int8") == true)
            #expect(info?["model_dtype"] as? String == "int8")
            #expect(try s.get("/metrics").text.contains(#"precision="int8""#))
            let int8 = embeddings(try s.post("/embed", contentType: "audio/wav", body: body))
            try #require(int8.count == 1 && fp32.count == 1)
            let cosine = Numerics.cosine(int8[0][...], fp32[0][...])
            #expect(cosine >= 0.999 && cosine < 1, "int8 vs fp32 server clip cosine \(cosine)")
        }
    }
}

@Suite(.serialized) struct PthServingTests {
    @Test func serverServesAnOfficialPthDirectly() throws {
        let pth = Fixtures.golden + "/tiny_208/official_pth/m2d_vit_base-80x208p16x16-golden/checkpoint-300.pth"
        let direct = try TestServer.with { s in
            embeddings(try s.post("/embed", contentType: "audio/wav", body: audio("ten_sec_mod")))
        }
        try TestServer.with(model: pth) { (s: TestServer) throws in
            #expect(try s.get("/info").json?["model_id"] as? String == "m2d_vit_base-80x208p16x16-golden")
            #expect(embeddings(try s.post("/embed", contentType: "audio/wav", body: audio("ten_sec_mod"))) == direct)
        }
    }
}

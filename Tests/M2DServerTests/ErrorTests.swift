// Every error status with its JSON body, from a real daemon. Never a 500 for bad input.
import Foundation
import M2DServer
import Testing
import TestSupport

func expectError(
    _ r: TestResponse, _ status: Int, _ type: String, contains text: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(r.status == status, "body: \(r.text)", sourceLocation: sourceLocation)
    #expect(r.json?["error_type"] as? String == type, "body: \(r.text)", sourceLocation: sourceLocation)
    #expect(r.json?["code"] as? Int == status, sourceLocation: sourceLocation)
    if let text {
        #expect(
            (r.json?["error"] as? String)?.contains(text) == true, "body: \(r.text)", sourceLocation: sourceLocation)
    }
}

@Suite(.serialized) struct ErrorTests {
    @Test func badInputs() throws {
        try TestServer.with(configure: {
            $0.maxClientBatchSize = 2; $0.maxAudioSeconds = 6
        }) { s in
            expectError(
                try s.post("/embed", contentType: "application/json", body: Array("{nope".utf8)), 400, "invalid_request"
            )
            expectError(
                try s.postJSON("/embed", ["inputs": "%%%not base64%%%"]), 400, "invalid_request", contains: "base64")
            expectError(try s.postJSON("/embed", ["inputs": []]), 400, "empty")
            expectError(try s.postJSON("/embed", ["nothing": 1]), 400, "empty")
            expectError(
                try s.post("/embed", contentType: "audio/wav", body: Array("RIFF0000WAVEjunkjunk".utf8)), 400,
                "invalid_audio")
            expectError(try s.post("/embed", contentType: "audio/wav", body: []), 400, "empty")
            let (type, body) = HTTPClient.multipart([("other", nil, Array("x".utf8))])
            expectError(try s.post("/embed", contentType: type, body: body), 400, "empty", contains: "'file'")
            let wav = audio("short_chirp")
            expectError(
                try s.post("/embed", contentType: "audio/wav", body: Array(wav.prefix(wav.count / 2))), 400,
                "invalid_audio", contains: "truncated")
            expectError(
                try s.post("/embed", contentType: "text/plain", body: Array("x".utf8)), 415, "unsupported_media_type",
                contains: "audio/wav")
            expectError(
                try s.post("/embed", contentType: "application/octet-stream", body: Array("hello world".utf8)), 415,
                "unsupported_media_type")
            let m4a: [UInt8] = [0, 0, 0, 32] + Array("ftypM4A ".utf8) + [UInt8](repeating: 0, count: 40)
            expectError(
                try s.post("/embed", contentType: "audio/wav", body: m4a), 415, "unsupported_media_type",
                contains: "MP4")
            expectError(
                try s.post("/embed?encoding_format=hex", contentType: "audio/wav", body: wav), 422, "validation",
                contains: "encoding_format")
            expectError(try s.post("/embed?granularity=words", contentType: "audio/wav", body: wav), 422, "validation")
            expectError(
                try s.post("/embed?model=other", contentType: "audio/wav", body: wav), 422, "validation",
                contains: "not served")
            expectError(
                try s.post(
                    "/embed", contentType: "audio/wav", body: Fixtures.bytes(Fixtures.audio + "/ten_channels.wav")),
                422, "validation", contains: "channels")
            expectError(
                try s.postFiles("/embed", [("a", wav), ("b", wav), ("c", wav)]), 413, "payload_too_large",
                contains: "--max-client-batch-size")
            expectError(
                try s.post("/embed", contentType: "audio/wav", body: audio("ten_sec_mod")), 413, "payload_too_large",
                contains: "--max-audio-seconds")
            expectError(
                try s.postJSON("/embed", ["inputs": "https://example.com/a.wav"]), 422, "validation",
                contains: "not fetched")
            expectError(
                try s.post("/classify", contentType: "audio/wav", body: wav), 404, "not_found", contains: "heads")
        }
    }

    @Test func openAIErrorsAreNested() throws {
        try TestServer.with { s in
            let wav = Data(audio("short_chirp")).base64EncodedString()
            let r = try s.postJSON("/v1/embeddings", ["input": wav, "dimensions": 12])
            #expect(r.status == 422)
            let error = try #require(r.json?["error"] as? [String: Any])
            #expect(
                error["type"] as? String == "invalid_request_error" && error["param"] as? String == "dimensions"
                    && error["code"] as? Int == 422)
            #expect(try s.postJSON("/v1/embeddings", ["input": wav, "modality": "image"]).status == 422)
            // Texts on a model without an M2D-CLAP text side: 404, naming the import (TextRouteTests).
            #expect(try s.postJSON("/v1/embeddings", ["input": "rain", "modality": "text"]).status == 404)
        }
    }

    @Test func payloadLimitFromHeaderAndWhileStreaming() throws {
        try TestServer.with(configure: { $0.payloadLimit = 100_000 }) { s in
            let big = audio("ten_sec_mod")
            expectError(
                try s.post("/embed", contentType: "audio/wav", body: big), 413, "payload_too_large",
                contains: "--payload-limit")
            expectError(
                try s.post("/embed", contentType: "audio/wav", body: big, chunked: true), 413, "payload_too_large")
            #expect(
                try s.post("/embed", contentType: "audio/wav", body: audio("short_chirp"), chunked: true).status == 200)
        }
    }

    @Test func apiKeyGuardsInferenceButNotHealth() throws {
        try TestServer.with(configure: { $0.apiKey = "s3cret" }) { s in
            let wav = audio("short_chirp")
            let denied = try s.post("/embed", contentType: "audio/wav", body: wav)
            expectError(denied, 401, "unauthorized")
            #expect(denied.headers["www-authenticate"] == "Bearer")
            expectError(
                try s.post("/embed", contentType: "audio/wav", body: wav, headers: ["Authorization": "Bearer wrong"]),
                401, "unauthorized")
            #expect(
                try s.post("/embed", contentType: "audio/wav", body: wav, headers: ["Authorization": "Bearer s3cret"])
                    .status == 200)
            #expect(try s.get("/info").status == 401)
            #expect(try s.get("/health/live").status == 200)
            #expect(try s.get("/metrics").status == 200)
            #expect(try s.get("/openapi.yaml").status == 200)
        }
    }

    @Test func admissionLimitAnswers429WithRetryAfter() throws {
        try TestServer.with(configure: { $0.maxConcurrentRequests = 2 }) { s in
            let state = s.runner.app.state
            #expect(state.admit() && state.admit())
            let r = try s.post("/embed", contentType: "audio/wav", body: audio("short_chirp"))
            expectError(r, 429, "overloaded")
            #expect(r.headers["retry-after"] == "1")
            state.release(); state.release()
            #expect(try s.post("/embed", contentType: "audio/wav", body: audio("short_chirp")).status == 200)
        }
    }

    @Test func notReadyWhileLoadingThenReady() throws {
        let gate = DispatchSemaphore(value: 0)
        try TestServer.with(beforeLoad: { gate.wait() }, waitReady: false) { s in
            let ready = try s.get("/health/ready")
            #expect(ready.status == 503 && ready.json?["status"] as? String == "loading")
            #expect(try s.get("/health/live").status == 200)
            expectError(try s.post("/embed", contentType: "audio/wav", body: audio("short_chirp")), 503, "unhealthy")
            #expect(try s.get("/metrics").text.contains("m2d_ready 0"))
            gate.signal()
            #expect(s.runner.waitUntilLoaded(timeout: 60))
            #expect(try s.get("/health/ready").status == 200)
        }
    }

    @Test func slowClientsAreCutOff() throws {
        try TestServer.with(configure: { $0.connections.idleTimeout = 1 }) { (s: TestServer) throws in
            // Sends half a request and stalls: the server must close the connection by itself.
            let start = Date()
            let r = try? HTTPClient.raw(
                port: s.port, bytes: Array("POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc".utf8),
                timeout: 10)
            #expect(Date().timeIntervalSince(start) < 8)
            #expect(r == nil || r!.status != 200)
            #expect(try s.get("/health/live").status == 200)
        }
    }
}

/// Regressions found by schemathesis against the live server.
@Suite(.serialized) struct FuzzRegressionTests {
    @Test func malformedFormBodiesGetA400NotADroppedConnection() throws {
        try TestServer.with { (s: TestServer) throws in
            let r = try s.post("/embed", contentType: "application/x-www-form-urlencoded", body: Array("=null".utf8))
            #expect(r.status == 400, "\(r.text)")
            let v1 = try s.post(
                "/v1/embeddings", contentType: "multipart/form-data", body: Array("abc".utf8),
                headers: ["x-request-id": "r1"])
            #expect(v1.status == 400)
            #expect((v1.json?["error"] as? [String: Any])?["type"] as? String == "invalid_request_error")
            #expect(v1.headers["x-request-id"] == "r1")
        }
    }

    @Test func emptyRequestIDIsReplaced() throws {
        try TestServer.with { (s: TestServer) throws in
            let r = try s.get("/health/live", headers: ["x-request-id": ""])
            #expect((r.headers["x-request-id"] ?? "").count >= 16)
        }
    }

    @Test func jsonOptionTypesAreChecked() throws {
        try TestServer.with { (s: TestServer) throws in
            let wav = Data(audio("short_chirp")).base64EncodedString()
            #expect(try s.postJSON("/embed", ["inputs": wav, "normalize": 1]).status == 422)
            #expect(try s.postJSON("/embed", ["inputs": wav, "normalize": true]).status == 200)
            #expect(try s.postJSON("/v1/embeddings", ["input": wav, "dimensions": true]).status == 422)
            #expect(try s.postJSON("/v1/embeddings", ["input": wav, "modality": 5]).status == 422)
            #expect(try s.postJSON("/v1/embeddings", ["input": wav, "dimensions": 960]).status == 200)
        }
    }
}

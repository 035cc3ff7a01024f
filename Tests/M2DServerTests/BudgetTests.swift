// Hardening, budgets before allocation: absurd headers are refused before any sample exists, one
// request's audio is bounded, and all requests together stay within the in-flight budget (429).
// Black-box over HTTP against real daemons; the memory claims run the real process.
import Foundation
import M2DServer
import Testing
import TestSupport

@Suite(.serialized) struct BudgetTests {
    /// The 343 KB FLAC that claims 1,048,575 Hz x 8 channels x 600 s (20 GB of floats), alone and
    /// four in one multipart body, against the real server under a 3 GiB address-space limit.
    @Test func decompressionBombsAreRefusedBeforeAllocating() throws {
        let server = try ServerProcess([], addressSpaceMB: 3072)
        let bomb = TestAudio.flacClaiming(rate: 1_048_575, channels: 8, seconds: 600)
        let one = try server.request("POST", "/embed", headers: ["Content-Type": "audio/flac"], body: bomb)
        expectError(one, 422, "validation", contains: "384000 Hz")
        let (type, body) = HTTPClient.multipart((0..<4).map { ("file", "bomb\($0).flac", bomb) })
        expectError(
            try server.request("POST", "/embed", headers: ["Content-Type": type], body: body), 422, "validation")
        // A legal rate, but 384 kHz x 8 channels x 600 s is over the decoding budget: 413 from the header.
        let heavy = TestAudio.flacClaiming(rate: 384_000, channels: 8, seconds: 600)
        let refused = try server.request("POST", "/embed", headers: ["Content-Type": "audio/flac"], body: heavy)
        expectError(refused, 413, "payload_too_large", contains: "--max-decoded-samples")
        #expect(server.isRunning)
        #expect(try server.request("GET", "/health/ready").status == 200)
        #expect(try server.postWAV("/embed", audio("short_chirp")).status == 200)
    }

    @Test func oneRequestsAudioIsBounded() throws {
        try TestServer.with(configure: {
            $0.maxAudioSeconds = 10; $0.maxRequestAudioSeconds = 20; $0.maxInflightAudioSeconds = 30
        }) { s in
            let ten = TestAudio.longWAV(seconds: 9.5)
            #expect(try s.postFiles("/embed", [("a", ten), ("b", ten)]).status == 200)
            let r = try s.postFiles("/embed", [("a", ten), ("b", ten), ("c", ten)])
            expectError(r, 413, "payload_too_large", contains: "--max-request-audio-seconds")
            let info = try s.get("/info")
            #expect(
                info.json?["max_request_audio_seconds"] as? Int == 20
                    && info.json?["max_inflight_audio_seconds"] as? Int == 30)
            #expect(info.json?["max_sample_rate"] as? Int == 384_000)
        }
    }

    @Test func inflightBudgetAnswers429WithRetryAfterThenRecovers() throws {
        let engine = try StubEngine.tiny()
        try TestServer.with(engine: engine, configure: {
            $0.maxAudioSeconds = 10; $0.maxRequestAudioSeconds = 20; $0.maxInflightAudioSeconds = 25
        }) { s in
            let ten = TestAudio.longWAV(seconds: 9.5)
            engine.close()
            // The first request holds 19 s of the 25 s budget while the engine is held.
            let (type, body) = HTTPClient.multipart([("file", "a", ten), ("file", "b", ten)])
            let holder = BackgroundRequest(port: s.port, headers: ["Content-Type": type], body: body)
            var held = 0.0
            for _ in 0..<200 where held < 19 {
                usleep(20_000)
                held = metric(try s.get("/metrics").text, "m2d_inflight_audio_seconds") ?? 0
            }
            #expect(held >= 19)
            let refused = try s.post("/embed", contentType: "audio/wav", body: ten)
            expectError(refused, 429, "overloaded", contains: "--max-inflight-audio-seconds")
            #expect(refused.headers["retry-after"] == "1")
            #expect(metric(try s.get("/metrics").text, "m2d_rejected_requests_total{reason=\"budget\"}") == 1)
            engine.open()
            #expect(holder.wait()?.status == 200)
            #expect(try s.post("/embed", contentType: "audio/wav", body: ten).status == 200)
            #expect(metric(try s.get("/metrics").text, "m2d_inflight_audio_seconds") == 0)
        }
    }

    /// Clip requests keep a running mean, not their frames, and drop samples and upload bytes once
    /// the front end has run: 2,400 s of audio in one clip request grows the server by its log-mel
    /// (80 floats per 10 ms: 77 MB) plus one input's transient samples, not by every sample and frame.
    @Test func clipRequestsHoldOnlyWhatTheyAnswer() throws {
        let server = try ServerProcess([
            "--payload-limit", "60000000", "--max-request-audio-seconds", "2400",
            "--max-inflight-audio-seconds", "2400",
        ])
        _ = try server.postWAV("/embed", audio("short_chirp"))
        let before = server.peakRSSMB
        let input = TestAudio.longWAV(seconds: 599, rate: 8000)
        let (type, body) = HTTPClient.multipart((0..<4).map { ("file", "long\($0).wav", input) })
        let r = try server.request("POST", "/embed", headers: ["Content-Type": type], body: body, timeout: 300)
        #expect(r.status == 200, "\(r.text.prefix(300))")
        #expect((r.json?["data"] as? [[String: Any]])?.count == 4)
        let growth = server.peakRSSMB - before
        // Log-mel 77 MB + body 38 MB + one input's 16 kHz samples 38 MB + transients. Keeping every
        // input's samples and frames, as before, would add 4 x (38 + 15) MB more.
        #expect(growth < 230, "peak RSS grew by \(growth) MB for 2,400 s of clip audio")
    }
}

/// The value of a Prometheus sample line `name` (with labels, if given) in `text`.
func metric(_ text: String, _ name: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
        return Double(line.dropFirst(name.count + 1))
    }
    return nil
}

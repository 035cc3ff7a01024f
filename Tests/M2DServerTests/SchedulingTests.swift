// Hardening, the inference worker: a short request beside a very long one keeps close to its solo
// latency while batches stay full; work for clients that left is dropped and counted; readiness
// means "can serve" (never an idle clock) and comes back when a backend failure clears. A stub
// engine behind the EncoderEngine seam makes batch times deterministic; requests go over HTTP to
// a real daemon.
import Foundation
import M2DServer
import Testing
import TestSupport

@Suite(.serialized) struct SchedulingTests {
    /// The tiny model's chunks are 2.08 s: 400 s of audio is 193 chunks, 49 batches of 4 at 30 ms.
    @Test func aShortRequestIsNotStuckBehindALongOne() throws {
        let engine = try StubEngine.tiny(delay: 0.03)
        try TestServer.with(
            engine: engine,
            configure: {
                $0.maxBatchChunks = 4; $0.maxBatchDelayMs = 0
            }
        ) { (s: TestServer) throws in
            let long = TestAudio.longWAV(seconds: 400)
            let longRequest = BackgroundRequest(port: s.port, body: long)
            // Once the long request is in the encoder, a one-chunk request arrives.
            while engine.encodedChunks < 8 { usleep(5000) }
            let shortStart = Date()
            #expect(try s.post("/embed", contentType: "audio/wav", body: audio("short_chirp")).status == 200)
            let shortLatency = Date().timeIntervalSince(shortStart)
            #expect(longRequest.wait()?.status == 200)
            // Alone the short request takes one 30 ms batch; FIFO would make it wait ~1.4 s.
            #expect(shortLatency < 0.4, "short request took \(shortLatency) s beside the long one")
            #expect(longRequest.elapsed > 1.2, "the long request finished in \(longRequest.elapsed) s")
            // Batches stay full while both wait.
            let sizes = engine.batchSizes
            #expect(sizes.filter { $0 == 4 }.count >= sizes.count - 2, "batch sizes \(sizes)")
        }
    }

    /// With a real model a chunk costs tens of milliseconds: batches are cut to about --max-batch-ms
    /// of work, so a new request never waits for a long batch (50 ms a chunk: 4 per 200 ms batch).
    @Test func batchesAreCutToTheirTimeBudget() throws {
        let engine = try StubEngine.tiny()
        engine.set(delay: 0, perChunk: 0.05)
        try TestServer.with(
            engine: engine,
            configure: {
                $0.maxBatchChunks = 32; $0.maxBatchMs = 200; $0.maxBatchDelayMs = 0
            }
        ) { (s: TestServer) throws in
            let long = BackgroundRequest(port: s.port, body: TestAudio.longWAV(seconds: 200))
            while engine.encodedChunks < 12 { usleep(5000) }
            let start = Date()
            #expect(try s.post("/embed", contentType: "audio/wav", body: audio("short_chirp")).status == 200)
            let latency = Date().timeIntervalSince(start)
            _ = long.wait()
            // At most the batch in progress and its own: 2 x 200 ms, against 1.6 s for a 32-chunk batch.
            #expect(latency < 0.6, "a one-chunk request waited \(latency) s")
            #expect(engine.batchSizes.dropFirst(2).allSatisfy { $0 <= 4 }, "batch sizes \(engine.batchSizes)")
            #expect(try s.get("/info").json?["max_batch_ms"] as? Int == 200)
        }
    }

    /// 16 clients send long requests and hang up (curl -m 1); their queued chunks are dropped.
    @Test func workForDepartedClientsIsDroppedAndCounted() throws {
        let engine = try StubEngine.tiny(delay: 0.05)
        try TestServer.with(
            engine: engine,
            configure: {
                $0.maxBatchChunks = 2; $0.maxBatchDelayMs = 0
            }
        ) { s in
            let body = Array("POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n".utf8)
            let wav = TestAudio.longWAV(seconds: 80)  // 39 chunks each: 16 x 39 x 25 ms = 16 s of work
            var sockets: [Int32] = []
            for _ in 0..<16 {
                let fd = try HTTPClient.connect(port: s.port)
                HTTPClient.send(fd, body + Array("Content-Length: \(wav.count)\r\n\r\n".utf8) + wav)
                sockets.append(fd)
            }
            // Hang up once at least half the chunks are queued (the rest may still be decoding).
            var queued = 0.0
            for _ in 0..<300 where queued < 312 {
                usleep(10_000)
                queued = metric(try s.get("/metrics").text, "m2d_pending_chunks") ?? 0
            }
            #expect(queued >= 312)
            for fd in sockets { close(fd) }
            // The queue empties within a sweep or two, not after 16 s of batches.
            let gone = Date()
            var pending = Double.infinity
            while pending > 0 && Date().timeIntervalSince(gone) < 3 {
                usleep(50_000)
                pending = metric(try s.get("/metrics").text, "m2d_pending_chunks") ?? .infinity
            }
            #expect(pending == 0, "chunks still pending 3 s after the clients left")
            let encodedThen = engine.encodedChunks
            let short = Date()
            #expect(try s.post("/embed", contentType: "audio/wav", body: audio("short_chirp")).status == 200)
            #expect(Date().timeIntervalSince(short) < 1)
            #expect(encodedThen < 16 * 39 / 4, "encoded \(encodedThen) of \(16 * 39) chunks")
            let text = try s.get("/metrics").text
            #expect(metric(text, "m2d_cancelled_requests_total") == 16)
            // What was queued at the hang-up is dropped, less the few batches run before the sweep saw it.
            let dropped = metric(text, "m2d_cancelled_chunks_total") ?? 0
            #expect(dropped >= queued - 40, "\(dropped) chunks dropped of \(queued) queued")
        }
    }

    /// An idle server stays ready through a slow request; only waiting work with no progress is a stall.
    @Test func readinessDoesNotFlapAfterIdleness() throws {
        let engine = try StubEngine.tiny(delay: 0.4)
        try TestServer.with(
            engine: engine,
            configure: {
                $0.stallTimeout = 1; $0.maxBatchChunks = 1
            }
        ) { s in
            usleep(1_500_000)  // idle longer than the stall timeout
            let slow = BackgroundRequest(port: s.port, body: TestAudio.longWAV(seconds: 6))
            var statuses: Set<Int> = []
            while !slow.isFinished {
                statuses.insert(try s.get("/health/ready").status)
                usleep(50_000)
            }
            #expect(slow.wait()?.status == 200)
            #expect(statuses == [200], "readiness during a slow request after idleness: \(statuses)")
        }
    }

    @Test func readinessReportsAStallAndRecovers() throws {
        let engine = try StubEngine.tiny()
        try TestServer.with(engine: engine, configure: { $0.stallTimeout = 1 }) { s in
            engine.close()
            let held = BackgroundRequest(port: s.port, body: audio("short_chirp"))
            usleep(1_600_000)
            let stalled = try s.get("/health/ready")
            #expect(stalled.status == 503 && stalled.json?["status"] as? String == "stalled", "\(stalled.text)")
            #expect(try s.get("/health/ready", admin: true).status == 503)
            engine.open()
            _ = held.wait()
            #expect(try s.get("/health/ready").status == 200)
        }
    }

    @Test func aBackendFailureThatClearsLetsReadinessReturn() throws {
        let engine = try StubEngine.tiny()
        try TestServer.with(engine: engine) { s in
            engine.failNext(1000)
            for _ in 0..<3 {
                let r = try s.post("/embed", contentType: "audio/wav", body: audio("short_chirp"))
                expectError(r, 500, "backend", contains: "stub engine")
            }
            let down = try s.get("/health/ready")
            #expect(down.status == 503 && down.json?["status"] as? String == "unhealthy", "\(down.text)")
            expectError(try s.post("/embed", contentType: "audio/wav", body: audio("short_chirp")), 503, "unhealthy")
            engine.failNext(0)
            // The scheduler probes every 5 s while failing.
            var status = 0
            let deadline = Date(timeIntervalSinceNow: 8)
            while status != 200 && Date() < deadline {
                usleep(100_000)
                status = try s.get("/health/ready").status
            }
            #expect(status == 200)
            #expect(try s.post("/embed", contentType: "audio/wav", body: audio("short_chirp")).status == 200)
        }
    }
}

// The real m2d-server process: SIGTERM drains (readiness 503, in-flight work finishes, exit 0),
// and a bad --model is a clear error with a non-zero exit.
import Foundation
import M2DModel
import Testing
import TestSupport

@Suite(.serialized) struct LifecycleTests {
    @Test func sigtermDrainsInFlightWorkAndExitsZero() throws {
        let server = try ServerProcess(["--max-batch-delay-ms", "300"])
        // An in-flight request (held ~300 ms by the batch delay) while SIGTERM arrives.
        let inflight = BackgroundRequest(port: server.port, body: audio("ten_sec_mod"))
        usleep(100_000)
        server.signal(SIGTERM)
        #expect(server.waitForExit(timeout: 30) == 0)
        #expect(inflight.wait()?.status == 200)
        #expect(server.output.contains("draining") && server.output.contains("stopped"))
    }

    @Test func readinessIsDrainingDuringShutdown() throws {
        try TestServer.with { s in
            s.runner.app.state.set(.draining, reason: "shutting down")
            let r = try s.get("/health/ready")
            #expect(r.status == 503 && r.json?["status"] as? String == "draining")
            #expect(try s.post("/embed", contentType: "audio/wav", body: audio("short_chirp")).status == 503)
        }
    }

    @Test func badModelIsAClearErrorAndNonZeroExit() throws {
        let r = try CommandRunner.run("m2d-server", ["--model", "/nonexistent", "--port", "0"])
        #expect(r.status != 0 && r.stderr.contains("no model directory at '/nonexistent'"))
        let help = try CommandRunner.run("m2d-server", ["--help"])
        #expect(help.status == 0 && help.stdoutText.contains("--max-batch-chunks"))
    }

    /// A config.json that asks for a million blocks: the start fails (exit 1), and the log names the field.
    @Test func aDamagedModelFailsTheStartNamingTheField() throws {
        let model = Fixtures.temporaryDirectory() + "/model"
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: TestServer.tinyModel + "/model.safetensors", toPath: model + "/model.safetensors")
        let config = String(decoding: Fixtures.bytes(TestServer.tinyModel + "/config.json"), as: UTF8.self)
        try Data(config.replacingOccurrences(of: "\"depth\": 2", with: "\"depth\": 1000000").utf8).write(
            to: URL(fileURLWithPath: model + "/config.json"))
        let r = try CommandRunner.run(
            executable: "/usr/bin/prlimit",
            ["--as=\(3 << 30)", CommandRunner.productsDirectory.appendingPathComponent("m2d-server").path, "--model",
             model, "--host", "127.0.0.1", "--port", "0", "--admin-port", "0"])
        #expect(!r.signalled && r.status == 1, "status \(r.status): \(r.stderr.suffix(400))")
        #expect(r.stderr.contains("model failed to load") && r.stderr.contains("depth is 1000000"), "\(r.stderr)")
    }
}

@Suite(.serialized) struct SighupTests {
    @Test func sighupReloadsHeadsInTheRunningProcess() throws {
        let model = Fixtures.temporaryDirectory() + "/model"
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: TestServer.tinyModel + "/" + f, toPath: model + "/" + f)
        }
        let server = try ServerProcess([], model: model)
        let port = server.port
        let wav = audio("short_chirp")
        #expect(
            try HTTPClient.request(
                port: port, method: "POST", path: "/classify", headers: ["Content-Type": "audio/wav"], body: wav
            ).status == 404)
        try ProbeHead(
            name: "two", labels: ["a", "b"], multiLabel: false, weight: [Float](repeating: 0.01, count: 2 * 960),
            bias: [0, 1],
            mean: [Float](repeating: 0, count: 960), scale: [Float](repeating: 1, count: 960)
        ).write(to: model + "/heads/two.safetensors")
        server.signal(SIGHUP)
        var status = 0
        for _ in 0..<100 where status != 200 {
            usleep(50_000)
            status =
                (try? HTTPClient.request(
                    port: port, method: "POST", path: "/classify", headers: ["Content-Type": "audio/wav"], body: wav
                ).status) ?? 0
        }
        #expect(status == 200)
        #expect(server.isRunning)
    }
}

// Hardening, the ends of a request: an answer sent before the body is read reaches every client
// (the server reads and discards the body first), and SIGTERM drains without ever aborting:
// idle connections close, late work is answered 503, every suspended connection is resumed, and
// the process exits 0. Real clients (Python's urllib, requests and httpx, and curl) and the real
// server process.
import Foundation
import M2DServer
import Testing
import TestSupport

/// Runs `script` with Debian's python3 (whose requests and httpx `make deps` installs) and returns
/// its stdout.
func python(_ script: String, _ args: [String]) throws -> String {
    try run("/usr/bin/python3", ["-c", script] + args)
}

/// Runs `executable` and returns its stdout, trimmed.
func run(_ executable: String, _ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite(.serialized) struct EarlyErrorTests {
    /// urllib sends the whole body before it reads: it used to get a broken pipe 3 times out of 4.
    @Test func urllibRequestsHttpxAndCurlReadTheEarly413AndOtherEarlyAnswers() throws {
        try TestServer.with(configure: {
            $0.payloadLimit = 1 << 20; $0.apiKey = "k"
        }) { (s: TestServer) throws in
            let script = """
                import sys, urllib.request, urllib.error
                port, path, size, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
                out = []
                for _ in range(10):
                    headers = {"Content-Type": "audio/wav", "Authorization": "Bearer " + key}
                    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=b"\\0" * size, method="POST",
                                                 headers=headers)
                    try:
                        urllib.request.urlopen(req, timeout=20)
                        out.append("200")
                    except urllib.error.HTTPError as e:
                        out.append(str(e.code))
                    except Exception as e:
                        out.append(type(e).__name__)
                print(" ".join(out))
                """
            #expect(
                try python(script, [String(s.port), "/embed", String(3 << 20), "k"])
                    == Array(repeating: "413", count: 10).joined(separator: " "))
            #expect(
                try python(script, [String(s.port), "/embed", String(300_000), "wrong"])
                    == Array(repeating: "401", count: 10).joined(separator: " "))
            #expect(
                try python(script, [String(s.port), "/nowhere", String(300_000), "k"])
                    == Array(repeating: "404", count: 10).joined(separator: " "))
            let viaRequests = """
                import sys, requests
                port = sys.argv[1]
                headers = {"Content-Type": "audio/wav", "Authorization": "Bearer k"}
                codes = [str(requests.post(f"http://127.0.0.1:{port}/embed", data=b"\\0" * (3 << 20),
                             headers=headers, timeout=20).status_code) for _ in range(5)]
                print(" ".join(codes))
                """
            #expect(try python(viaRequests, [String(s.port)]) == "413 413 413 413 413")
            let viaHttpx = """
                import sys, httpx
                port = sys.argv[1]
                headers = {"Content-Type": "audio/wav", "Authorization": "Bearer k"}
                codes = [str(httpx.post(f"http://127.0.0.1:{port}/embed", content=b"\\0" * (3 << 20),
                             headers=headers, timeout=20).status_code) for _ in range(5)]
                print(" ".join(codes))
                """
            #expect(try python(viaHttpx, [String(s.port)]) == "413 413 413 413 413")
            // curl waits for 100-continue, so it sees the answer before sending; without Expect it sends all.
            let body = FileManager.default.temporaryDirectory.appendingPathComponent("early-\(getpid()).bin")
            try Data(count: 3 << 20).write(to: body)
            defer { try? FileManager.default.removeItem(at: body) }
            for expect in ["Expect: 100-continue", "Expect:"] {
                let codes = try (0..<5).map { _ in
                    try run(
                        "/usr/bin/curl",
                        [
                            "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: audio/wav",
                            "-H", "Authorization: Bearer k", "-H", expect, "--data-binary", "@" + body.path,
                            "http://127.0.0.1:\(s.port)/embed",
                        ])
                }
                #expect(codes == Array(repeating: "413", count: 5), "curl with '\(expect)': \(codes)")
            }
        }
    }
}

@Suite(.serialized) struct DrainTests {
    /// Four requests that need seconds of inference, SIGTERM with --shutdown-timeout 1: each client
    /// gets a whole answer (200 if it finished, else 503 naming the timeout), the process exits 0.
    @Test func sigtermPastTheShutdownTimeoutAnswersEveryoneAndExitsZero() throws {
        let server = try ServerProcess(
            ["--shutdown-timeout", "1", "--max-batch-chunks", "2"], model: "models/m2d-small-debian".absolute)
        let wav = TestAudio.longWAV(seconds: 120, rate: 16000)
        let clients = (0..<4).map { _ in BackgroundRequest(port: server.port, body: wav) }
        // Wait until all four are in the encoder's queue.
        var queued = 0.0
        for _ in 0..<300 where queued < 4 {
            usleep(20_000)
            queued = metric((try? server.request("GET", "/metrics", admin: true).text) ?? "", "m2d_queue_depth") ?? 0
        }
        #expect(queued == 4)
        let readyBefore = try server.request("GET", "/health/ready", admin: true).status
        server.signal(SIGTERM)
        usleep(300_000)
        let draining = try? server.request("GET", "/health/ready", admin: true, timeout: 2)
        #expect(server.waitForExit(timeout: 15) == 0, "\(server.output.suffix(2000))")
        let answers = clients.map { $0.wait() }
        #expect(readyBefore == 200)
        #expect(draining?.status == 503 && draining?.json?["status"] as? String == "draining")
        var late = 0
        for (i, answer) in answers.enumerated() {
            let answer = try #require(answer, "client \(i) got no answer (reset?)")
            let (status, body) = (answer.status, answer.text)
            #expect(
                status == 200 || (status == 503 && body.contains("--shutdown-timeout")),
                "client \(i): \(status) \(body.prefix(200))")
            if status == 503 { late += 1 }
        }
        #expect(late > 0, "every request finished within 1 s: the test did not reach the deadline")
        #expect(!server.output.contains("suspended connections"))
    }

    @Test func sigtermClosesIdleKeepAliveConnections() throws {
        let server = try ServerProcess(["--header-timeout", "60"])
        let fd = try HTTPClient.connect(port: server.port, timeout: 5)
        defer { close(fd) }
        HTTPClient.send(fd, Array("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        var buffer = [UInt8](repeating: 0, count: 4096)
        #expect(recv(fd, &buffer, buffer.count, 0) > 0)
        server.signal(SIGTERM)
        let start = Date()
        let rest = HTTPClient.readToEnd(fd)
        #expect(rest != nil && Date().timeIntervalSince(start) < 2, "the idle connection stayed open during the drain")
        #expect(server.waitForExit(timeout: 10) == 0)
    }
}

extension String {
    /// This repository-relative path made absolute (tests run from the package root or elsewhere).
    var absolute: String {
        hasPrefix("/")
            ? self
            : URL(fileURLWithPath: Fixtures.root).deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(self).path
    }
}

// A real m2d-server process on 127.0.0.1 with port 0 for both ports, read back from its log; its
// stderr is collected on a thread. Optionally run under `prlimit --as` (an address-space limit),
// so a test can show that hostile input cannot make it allocate without bound.
import Foundation
import TestSupport

final class ServerProcess: @unchecked Sendable {
    // SAFETY: the ports are set in init, before any other thread sees the object; the log lives in
    // its own locked box, so the reader thread never holds the process object alive.
    let process = Process()
    private let log = LogBuffer()
    private(set) var port = 0
    private(set) var adminPort = 0

    private final class LogBuffer: @unchecked Sendable {
        // SAFETY: `text` is guarded by `lock`.
        private let lock = NSLock()
        private var text = ""
        func append(_ data: Data) { lock.withLock { text += String(decoding: data, as: UTF8.self) } }
        var value: String { lock.withLock { text } }
    }

    /// Starts the server with `arguments` after the defaults, under an address-space limit of
    /// `addressSpaceMB` when given, and waits until it is ready (or `timeout`).
    init(
        _ arguments: [String], model: String = TestServer.tinyModel, addressSpaceMB: Int? = nil,
        environment: [String: String] = [:], waitReady: Bool = true, timeout: Double = 60
    ) throws {
        let binary = CommandRunner.productsDirectory.appendingPathComponent("m2d-server").path
        let args = ["--model", model, "--host", "127.0.0.1", "--port", "0", "--admin-port", "0"] + arguments
        if let addressSpaceMB {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
            process.arguments = ["--as=\(addressSpaceMB << 20)", binary] + args
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = args
        }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let log = self.log
        let reader = Thread {
            while true {
                let data = err.fileHandleForReading.availableData
                if data.isEmpty { return }
                log.append(data)
            }
        }
        reader.start()
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline, process.isRunning {
            let text = log.value
            if port == 0, let p = Self.number(after: " port=", in: text) { port = p }
            if adminPort == 0, let p = Self.number(after: "admin_port=", in: text) { adminPort = p }
            if port > 0 && (!waitReady || text.contains("] ready")) { break }
            usleep(20_000)
        }
        guard port > 0 else { throw HTTPClient.Failure.connect("server did not start: \(output)") }
        if waitReady, !output.contains("] ready") {
            throw HTTPClient.Failure.connect("server did not become ready: \(output)")
        }
    }

    /// SIGTERM (the server drains), then SIGKILL if it is still up after 10 s.
    deinit {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date(timeIntervalSinceNow: 10)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    var output: String { log.value }
    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    static func number(after marker: String, in text: String) -> Int? {
        guard let r = text.range(of: marker) else { return nil }
        return Int(text[r.upperBound...].prefix { $0.isNumber })
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to exit; its status, or nil after `timeout` seconds.
    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { return nil }
        usleep(50_000)
        return process.terminationStatus
    }

    /// Peak resident memory so far (VmHWM), MiB.
    var peakRSSMB: Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kb / 1024
    }

    func request(
        _ method: String = "GET", _ path: String, headers: [String: String] = [:], body: [UInt8] = [],
        admin: Bool = false, timeout: Double = 60
    ) throws -> TestResponse {
        try HTTPClient.request(
            port: admin ? adminPort : port, method: method, path: path, headers: headers, body: body, timeout: timeout)
    }

    func postWAV(
        _ path: String = "/embed", _ body: [UInt8], query: String = "", timeout: Double = 60
    ) throws -> TestResponse {
        try request("POST", path + query, headers: ["Content-Type": "audio/wav"], body: body, timeout: timeout)
    }
}

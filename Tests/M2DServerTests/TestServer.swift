// A real m2d-server (libmicrohttpd daemon) on 127.0.0.1 port 0 for one test, drained afterwards on
// both the success and the throw path.
import Foundation
import Logging
import M2DServer
import TestSupport

struct TestServer {
    let runner: ServerRunner
    let port: Int

    static let tinyModel = Fixtures.golden + "/tiny_208/model"

    /// `loader` replaces the model loader (a stub engine behind the EncoderEngine seam).
    static func with<R>(
        model: String = tinyModel, configure: (inout ServerConfig) -> Void = { _ in },
        loader: (@Sendable (ServerConfig) throws -> LoadedEngine)? = nil,
        beforeLoad: (@Sendable () -> Void)? = nil, waitReady: Bool = true,
        _ body: (TestServer) throws -> R
    ) throws -> R {
        var config = ServerConfig()
        config.modelPath = model
        config.host = "127.0.0.1"
        config.port = 0
        config.adminPort = 0
        configure(&config)
        var logger = Logger(label: "test-server")
        logger.logLevel = .warning
        let runner =
            loader.map { ServerRunner(config: config, logger: logger, loader: $0) }
            ?? ServerRunner(config: config, logger: logger)
        runner.beforeLoad = beforeLoad
        let port = try runner.start()
        defer { runner.drainAndStop(timeout: 5) }
        if waitReady, !runner.waitUntilLoaded(timeout: 60) {
            throw HTTPClient.Failure.connect("server did not become ready: \(runner.loadError ?? "timeout")")
        }
        return try body(TestServer(runner: runner, port: port))
    }

    func get(_ path: String, headers: [String: String] = [:], admin: Bool = false) throws -> TestResponse {
        try HTTPClient.request(port: admin ? runner.adminPort ?? 0 : port, path: path, headers: headers)
    }

    func post(
        _ path: String, contentType: String?, body: [UInt8], headers: [String: String] = [:], chunked: Bool = false
    ) throws -> TestResponse {
        var h = headers
        if let contentType { h["Content-Type"] = contentType }
        return try HTTPClient.request(port: port, method: "POST", path: path, headers: h, body: body, chunked: chunked)
    }

    func postJSON(_ path: String, _ object: Any, headers: [String: String] = [:]) throws -> TestResponse {
        try post(
            path, contentType: "application/json", body: [UInt8](try JSONSerialization.data(withJSONObject: object)),
            headers: headers)
    }

    func postFiles(_ path: String, _ files: [(String, [UInt8])], fields: [(String, String)] = []) throws -> TestResponse
    {
        let (type, body) = HTTPClient.multipart(
            files.map { ("file", $0.0, $0.1) } + fields.map { ($0.0, nil, Array($0.1.utf8)) })
        return try post(path, contentType: type, body: body)
    }
}

func audio(_ name: String) -> [UInt8] { Fixtures.bytes(Fixtures.golden + "/audio/\(name).wav") }

func floats(_ any: Any?) -> [Float]? { (any as? [NSNumber])?.map(\.floatValue) }

/// data[i].embedding of an /embed or /v1/embeddings body.
func embeddings(_ r: TestResponse) -> [[Float]] {
    ((r.json?["data"] as? [[String: Any]]) ?? []).compactMap { floats($0["embedding"]) }
}

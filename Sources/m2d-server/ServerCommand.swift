// m2d-server: parse flags (each with an environment-variable fallback) into ServerConfig and run.
import ArgumentParser
import CProcess
import Foundation
import Logging
import M2DServer
import M2DTensor

@main
struct ServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "m2d-server",
        abstract: "Serve M2D audio embeddings over HTTP (libmicrohttpd).",
        discussion: """
            Routes: POST /embed, POST /v1/embeddings, GET /v1/models, POST /classify, GET /info,
            GET /health/live, GET /health/ready, GET /metrics, GET /openapi.yaml. The admin port
            (--admin-port, default 8081) serves /health/*, /metrics and /openapi.yaml from its own
            connection table, so probes and scrapes answer when the main port is full.
            Every flag can also be set by the environment variable in brackets; a flag wins.
            SIGTERM drains: readiness turns 503, idle connections close, in-flight work finishes
            (what is left at --shutdown-timeout is answered 503), exit 0. SIGHUP reloads the heads.
            """)

    static let env = ProcessInfo.processInfo.environment
    /// Every default comes from ServerConfig, so the library, the flags and --help agree.
    static let defaults = ServerConfig()
    static func int(_ key: String, _ fallback: Int) -> Int { Int(env[key] ?? "") ?? fallback }
    static func double(_ key: String, _ fallback: Double) -> Double { Double(env[key] ?? "") ?? fallback }

    @Option(help: "Model directory (config.json + model.safetensors) or official .pth checkpoint. [M2D_MODEL]")
    var model: String = env["M2D_MODEL"] ?? defaults.modelPath
    @Option(help: "Address to bind. [HOST]") var host: String = env["HOST"] ?? defaults.host
    @Option(help: "Port (0 picks a free one). [PORT]") var port: Int = int("PORT", defaults.port)
    @Option(help: "Admin port for /health/*, /metrics, /openapi.yaml (0 picks a free one). [ADMIN_PORT]")
    var adminPort: Int = int("ADMIN_PORT", defaults.adminPort ?? 8081)
    @Flag(help: "Serve no admin port (health and metrics stay on the main port). [NO_ADMIN_PORT=1]")
    var noAdminPort = ["1", "true"].contains(env["NO_ADMIN_PORT"] ?? "")
    @Option(help: "Compute threads; 0 = all cores. [M2D_THREADS]") var threads: Int = int("M2D_THREADS", 0)
    @Option(help: "Largest request body in bytes. [PAYLOAD_LIMIT]") var payloadLimit: Int = int(
        "PAYLOAD_LIMIT", defaults.payloadLimit)
    @Option(help: "Longest audio per input in seconds. [MAX_AUDIO_SECONDS]")
    var maxAudioSeconds: Double = double("MAX_AUDIO_SECONDS", defaults.maxAudioSeconds)
    @Option(help: "Most audio per request in seconds, all inputs together. [MAX_REQUEST_AUDIO_SECONDS]")
    var maxRequestAudioSeconds: Double = double("MAX_REQUEST_AUDIO_SECONDS", defaults.maxRequestAudioSeconds)
    @Option(
        help:
            .init(
                "Audio seconds all requests in flight may hold (frames count 4x); over it: 429. "
                    + "[MAX_INFLIGHT_AUDIO_SECONDS]")
    )
    var maxInflightAudioSeconds: Double = double("MAX_INFLIGHT_AUDIO_SECONDS", defaults.maxInflightAudioSeconds)
    @Option(help: "Upload MiB all connections may hold at once; over it: 429. [MAX_INFLIGHT_UPLOAD_MB]")
    var maxInflightUploadMb: Int = int("MAX_INFLIGHT_UPLOAD_MB", defaults.maxInflightUploadBytes >> 20)
    @Option(help: "Highest accepted sample rate, Hz (422 above). [MAX_SAMPLE_RATE]") var maxSampleRate: Int = int(
        "MAX_SAMPLE_RATE", defaults.maxSampleRate)
    @Option(
        help:
            .init(
                "Decoded samples (frames x channels) per input; 0 = 8 ch x 48 kHz x --max-audio-seconds. "
                    + "[MAX_DECODED_SAMPLES]")
    )
    var maxDecodedSamples: Int = int("MAX_DECODED_SAMPLES", 0)
    @Option(help: "Most inputs per request. [MAX_CLIENT_BATCH_SIZE]") var maxClientBatchSize: Int = int(
        "MAX_CLIENT_BATCH_SIZE", defaults.maxClientBatchSize)
    @Option(help: "Most texts or candidate labels per request. [MAX_TEXTS]") var maxTexts: Int = int(
        "MAX_TEXTS", defaults.maxTexts)
    @Option(help: "Most UTF-8 bytes of one text. [MAX_TEXT_BYTES]") var maxTextBytes: Int = int(
        "MAX_TEXT_BYTES", defaults.maxTextBytes)
    @Option(help: "Text embeddings cached by text (repeated labels are free); 0 = off. [LABEL_CACHE_ENTRIES]")
    var labelCacheEntries: Int = int("LABEL_CACHE_ENTRIES", defaults.labelCacheEntries)
    @Option(
        help: "The M2D-CLAP text encoder's products: fp32, or bf16 (needs AVX512-BF16; docs/TEXT.md). [TEXT_PRECISION]")
    var textPrecision: String = ProcessInfo.processInfo.environment["TEXT_PRECISION"] ?? "fp32"
    @Option(help: "Most tokens of one request's texts together. [MAX_REQUEST_TOKENS]")
    var maxRequestTokens: Int = int("MAX_REQUEST_TOKENS", defaults.maxRequestTokens)
    @Option(help: "Requests in flight before 429. [MAX_CONCURRENT_REQUESTS]")
    var maxConcurrentRequests: Int = int("MAX_CONCURRENT_REQUESTS", defaults.maxConcurrentRequests)
    @Option(help: "Most chunks per encoder call. [MAX_BATCH_CHUNKS]") var maxBatchChunks: Int = int(
        "MAX_BATCH_CHUNKS", defaults.maxBatchChunks)
    @Option(help: "Work per encoder call, ms (bounds a new request's wait); 0 = no bound. [MAX_BATCH_MS]")
    var maxBatchMs: Double = double("MAX_BATCH_MS", defaults.maxBatchMs)
    @Option(help: "Longest wait to fill a batch, ms. [MAX_BATCH_DELAY_MS]") var maxBatchDelayMs: Double = double(
        "MAX_BATCH_DELAY_MS", defaults.maxBatchDelayMs)
    @Option(help: "Require 'Authorization: Bearer KEY' on inference and info routes; empty = no key. [API_KEY]")
    var apiKey: String = env["API_KEY"] ?? ""
    @Option(help: "Seconds to finish in-flight work on SIGTERM; the rest is answered 503. [SHUTDOWN_TIMEOUT]")
    var shutdownTimeout: Double = double("SHUTDOWN_TIMEOUT", defaults.shutdownTimeout)
    @Option(help: "Seconds without progress before a connection is closed. [CONNECTION_TIMEOUT]")
    var connectionTimeout: Int = int("CONNECTION_TIMEOUT", defaults.connections.idleTimeout)
    @Option(help: "Seconds for a request head to arrive (also the keep-alive idle limit). [HEADER_TIMEOUT]")
    var headerTimeout: Double = double("HEADER_TIMEOUT", defaults.connections.headerTimeout)
    @Option(help: "Bytes per second a body must keep up after --receive-grace. [MIN_RECEIVE_RATE]")
    var minReceiveRate: Double = double("MIN_RECEIVE_RATE", defaults.connections.minReceiveRate)
    @Option(help: "Seconds a body may take before --min-receive-rate applies. [RECEIVE_GRACE]")
    var receiveGrace: Double = double("RECEIVE_GRACE", defaults.connections.receiveGrace)
    @Option(help: "Open connections at most. [CONNECTION_LIMIT]") var connectionLimit: Int = int(
        "CONNECTION_LIMIT", defaults.connections.limit)
    @Option(
        help: "Idle or slow connections per client address (busy ones do not count); 0 = none. [MAX_CONNECTIONS_PER_IP]"
    )
    var maxConnectionsPerIp: Int = int("MAX_CONNECTIONS_PER_IP", defaults.connections.perAddressLimit)
    @Option(help: "Readiness 503 when work waits and no batch finished for this many seconds. [STALL_TIMEOUT]")
    var stallTimeout: Double = double("STALL_TIMEOUT", defaults.stallTimeout)
    @Option(help: "GEMM backend: auto (oneDNN when libdnnl loads), onednn, openblas. [M2D_BACKEND]") var backend:
        String = env["M2D_BACKEND"] ?? defaults.backend.rawValue
    @Option(
        help: """
            GEMM precision: fp32, bf16 (needs oneDNN bf16 kernels: AVX-512) or int8 (per-channel weights, \
            per-token activations; docs/INT8.md). [M2D_PRECISION]
            """)
    var precision: String = env["M2D_PRECISION"] ?? defaults.precision.rawValue
    @Flag(help: "Log JSON lines instead of text. [JSON_LOGS=1]") var jsonLogs = ["1", "true"].contains(
        env["JSON_LOGS"] ?? "")
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. [LOG_LEVEL]") var logLevel: String =
        env["LOG_LEVEL"] ?? "info"

    func makeConfig() throws -> ServerConfig {
        guard let backend = GEMMEngine.Backend(rawValue: backend) else {
            throw ValidationError("--backend must be auto, onednn or openblas")
        }
        guard let precision = GEMMEngine.Precision(rawValue: precision) else {
            throw ValidationError("--precision must be fp32, bf16 or int8")
        }
        var c = ServerConfig()
        c.modelPath = model
        c.host = host
        c.port = port
        c.adminPort = noAdminPort ? nil : adminPort
        c.threads = threads > 0 ? threads : nil
        c.payloadLimit = payloadLimit
        c.maxAudioSeconds = maxAudioSeconds
        c.maxRequestAudioSeconds = maxRequestAudioSeconds
        c.maxInflightAudioSeconds = maxInflightAudioSeconds
        c.maxInflightUploadBytes = maxInflightUploadMb << 20
        c.maxSampleRate = maxSampleRate
        c.maxDecodedSamples = maxDecodedSamples > 0 ? maxDecodedSamples : nil
        c.maxClientBatchSize = maxClientBatchSize
        c.maxTexts = maxTexts
        c.maxTextBytes = maxTextBytes
        c.labelCacheEntries = labelCacheEntries
        c.maxRequestTokens = maxRequestTokens
        guard let text = GEMMEngine.Precision(rawValue: textPrecision), text != .int8 else {
            throw ValidationError("--text-precision must be fp32 or bf16")
        }
        if text == .bf16 && !GEMMEngine.oneDNNSupports(.bf16) {
            throw ValidationError(
                "--text-precision bf16 needs oneDNN's bf16 kernels (AVX512-BF16), which this CPU lacks; use fp32")
        }
        c.textPrecision = text
        c.maxConcurrentRequests = maxConcurrentRequests
        c.maxBatchChunks = maxBatchChunks
        c.maxBatchDelayMs = maxBatchDelayMs
        c.maxBatchMs = maxBatchMs
        c.apiKey = apiKey.isEmpty ? nil : apiKey
        c.jsonLogs = jsonLogs
        c.shutdownTimeout = shutdownTimeout
        c.connections.idleTimeout = connectionTimeout
        c.connections.headerTimeout = headerTimeout
        c.connections.minReceiveRate = minReceiveRate
        c.connections.receiveGrace = receiveGrace
        c.connections.limit = connectionLimit
        c.connections.perAddressLimit = maxConnectionsPerIp
        c.stallTimeout = stallTimeout
        c.backend = backend
        c.precision = precision
        return c
    }

    func validate() throws {
        if threads < 0 { throw ValidationError("--threads must be 0 (all cores) or more") }
        if maxDecodedSamples < 0 { throw ValidationError("--max-decoded-samples must be 0 (the default) or more") }
        do { try makeConfig().validate() } catch let error as ServerConfig.Invalid {
            throw ValidationError(error.description)
        }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: model, isDirectory: &isDir)
        if !exists || (!isDir.boolValue && !model.hasSuffix(".pth")) {
            throw ValidationError(
                "no model directory at '\(model)'; pass --model DIR or set M2D_MODEL (a directory with config.json "
                    + "and model.safetensors, or an official .pth checkpoint)")
        }
    }

    func run() throws {
        // glibc raises its mmap threshold after large frees, so later activation buffers land in
        // per-thread arenas and RSS creeps up under load. A fixed threshold keeps big buffers
        // mmap'd (returned on free) and two arenas bound the rest (see make bench-server).
        _ = m2d_tune_malloc(256 * 1024, 2)
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = jsonLogs
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let runner = ServerRunner(config: try makeConfig(), logger: Logger(label: "m2d-server"))
        do { try runner.start() } catch { throw ValidationError("\(error)") }
        let status = runner.runUntilSignalled()
        if status != 0 { throw ExitCode(status) }
    }
}

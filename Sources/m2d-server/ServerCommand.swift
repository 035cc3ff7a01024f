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
            GET /health/live, GET /health/ready, GET /metrics, GET /openapi.yaml.
            Every flag can also be set by the environment variable in brackets; a flag wins.
            SIGTERM drains: readiness turns 503, in-flight work finishes (--shutdown-timeout), exit 0.
            """)

    static let env = ProcessInfo.processInfo.environment

    @Option(help: "Model directory (config.json + model.safetensors) or official .pth checkpoint. [M2D_MODEL]")
    var model: String = env["M2D_MODEL"] ?? "models/m2d-small-debian"
    @Option(help: "Address to bind. [HOST]") var host: String = env["HOST"] ?? "0.0.0.0"
    @Option(help: "Port (0 picks a free one). [PORT]") var port: Int = Int(env["PORT"] ?? "") ?? 8080
    @Option(help: "Compute threads; 0 = all cores. [M2D_THREADS]") var threads: Int = Int(env["M2D_THREADS"] ?? "") ?? 0
    @Option(help: "Largest request body in bytes. [PAYLOAD_LIMIT]") var payloadLimit: Int = Int(env["PAYLOAD_LIMIT"] ?? "") ?? 26_214_400
    @Option(help: "Longest audio per input in seconds. [MAX_AUDIO_SECONDS]") var maxAudioSeconds: Double = Double(env["MAX_AUDIO_SECONDS"] ?? "") ?? 600
    @Option(help: "Most inputs per request. [MAX_CLIENT_BATCH_SIZE]") var maxClientBatchSize: Int = Int(env["MAX_CLIENT_BATCH_SIZE"] ?? "") ?? 32
    @Option(help: "Requests in flight before 429. [MAX_CONCURRENT_REQUESTS]") var maxConcurrentRequests: Int = Int(env["MAX_CONCURRENT_REQUESTS"] ?? "") ?? 64
    @Option(help: "Most chunks per encoder call. [MAX_BATCH_CHUNKS]") var maxBatchChunks: Int = Int(env["MAX_BATCH_CHUNKS"] ?? "") ?? 32
    @Option(help: "Longest wait to fill a batch, ms. [MAX_BATCH_DELAY_MS]") var maxBatchDelayMs: Double = Double(env["MAX_BATCH_DELAY_MS"] ?? "") ?? 2
    @Option(help: "Require 'Authorization: Bearer KEY' on inference and info routes; empty = no key. [API_KEY]") var apiKey: String = env["API_KEY"] ?? ""
    @Option(help: "Seconds to finish in-flight work on SIGTERM. [SHUTDOWN_TIMEOUT]") var shutdownTimeout: Double = Double(env["SHUTDOWN_TIMEOUT"] ?? "") ?? 30
    @Option(help: "Idle seconds before a slow connection is closed. [CONNECTION_TIMEOUT]") var connectionTimeout: Int = Int(env["CONNECTION_TIMEOUT"] ?? "") ?? 30
    @Option(help: "GEMM backend: auto (oneDNN when libdnnl loads), onednn, openblas. [M2D_BACKEND]") var backend: String = env["M2D_BACKEND"] ?? "auto"
    @Option(help: "GEMM precision: fp32 or bf16 (bf16 needs onednn). [M2D_PRECISION]") var precision: String = env["M2D_PRECISION"] ?? "fp32"
    @Flag(help: "Log JSON lines instead of text. [JSON_LOGS=1]") var jsonLogs = ["1", "true"].contains(env["JSON_LOGS"] ?? "")
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. [LOG_LEVEL]") var logLevel: String = env["LOG_LEVEL"] ?? "info"

    func validate() throws {
        if port < 0 || port > 65535 { throw ValidationError("--port must be 0...65535") }
        if payloadLimit < 1024 { throw ValidationError("--payload-limit must be at least 1024 bytes") }
        if maxAudioSeconds <= 0 { throw ValidationError("--max-audio-seconds must be positive") }
        if maxClientBatchSize < 1 || maxConcurrentRequests < 1 || maxBatchChunks < 1 {
            throw ValidationError("--max-client-batch-size, --max-concurrent-requests and --max-batch-chunks must be at least 1")
        }
        if maxBatchDelayMs < 0 { throw ValidationError("--max-batch-delay-ms must be >= 0") }
        if threads < 0 { throw ValidationError("--threads must be 0 (all cores) or more") }
        if GEMMEngine.Backend(rawValue: backend) == nil { throw ValidationError("--backend must be auto, onednn or openblas") }
        if GEMMEngine.Precision(rawValue: precision) == nil { throw ValidationError("--precision must be fp32 or bf16") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: model, isDirectory: &isDir)
        if !exists || (!isDir.boolValue && !model.hasSuffix(".pth")) {
            throw ValidationError("no model directory at '\(model)'; pass --model DIR or set M2D_MODEL (a directory with config.json and model.safetensors, or an official .pth checkpoint)")
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
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var config = ServerConfig()
        config.modelPath = model
        config.host = host
        config.port = port
        config.threads = threads > 0 ? threads : nil
        config.payloadLimit = payloadLimit
        config.maxAudioSeconds = maxAudioSeconds
        config.maxClientBatchSize = maxClientBatchSize
        config.maxConcurrentRequests = maxConcurrentRequests
        config.maxBatchChunks = maxBatchChunks
        config.maxBatchDelayMs = maxBatchDelayMs
        config.apiKey = apiKey.isEmpty ? nil : apiKey
        config.jsonLogs = jsonLogs
        config.shutdownTimeout = shutdownTimeout
        config.backend = GEMMEngine.Backend(rawValue: backend) ?? .auto
        config.precision = GEMMEngine.Precision(rawValue: precision) ?? .fp32
        config.connectionTimeout = connectionTimeout
        let runner = ServerRunner(config: config, logger: Logger(label: "m2d-server"))
        do { try runner.start() } catch {
            throw ValidationError("\(error)")
        }
        let status = runner.runUntilSignalled()
        if status != 0 { throw ExitCode(status) }
    }
}

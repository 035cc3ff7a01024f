import M2DTensor

// ServerConfig: every server setting, typed, with its documented default (PEERS-AND-API.md 3.7).

public struct ServerConfig: Sendable {
    /// Model directory to serve.
    public var modelPath = "models/m2d-small-debian"
    public var host = "0.0.0.0"
    public var port = 8080
    /// BLAS/compute threads (default: all cores).
    public var threads: Int?
    /// Largest request body in bytes (25 MiB).
    public var payloadLimit = 26_214_400
    /// Longest accepted audio per input, seconds (checked from the header before decoding).
    public var maxAudioSeconds = 600.0
    /// Most inputs in one request.
    public var maxClientBatchSize = 32
    /// Admission limit: requests in flight beyond this get 429 at once.
    public var maxConcurrentRequests = 64
    /// Most chunks per encoder call (batched across requests).
    public var maxBatchChunks = 32
    /// Longest wait for more work before running a partial batch, milliseconds.
    public var maxBatchDelayMs = 2.0
    /// Bearer key for inference and info routes; health, metrics and openapi stay open.
    public var apiKey: String?
    public var jsonLogs = false
    /// Seconds to finish in-flight work after SIGTERM.
    public var shutdownTimeout = 30.0
    /// Idle seconds before a connection is closed (slow clients).
    public var connectionTimeout = 30
    public var connectionLimit = 256
    /// GEMM backend (auto = oneDNN when libdnnl loads) and precision.
    public var backend = GEMMEngine.Backend.auto
    public var precision = GEMMEngine.Precision.fp32
    /// Run one forward pass before reporting ready.
    public var warmUp = true

    public init() {}
}

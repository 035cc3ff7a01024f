// ServerConfig: every server setting, typed, with its documented default (docs/HTTP-API.md §7).
// `validate` names the flag to fix; the command line only parses flags and environment into it.
import M2DAudio
import M2DTensor

public struct ServerConfig: Sendable {
    /// Model directory (or official .pth) to serve.
    public var modelPath = "models/m2d-small-debian"
    public var host = "0.0.0.0"
    public var port = 8080
    /// Port for /health/*, /metrics and /openapi.yaml only, with its own connection table (0 picks
    /// a free port; nil: none). Health stays answerable when the main table is full.
    public var adminPort: Int? = 8081
    /// BLAS/compute threads (default: all cores).
    public var threads: Int?
    /// Largest request body in bytes (25 MiB).
    public var payloadLimit = 26_214_400
    /// Longest audio per input, seconds (checked from the header before decoding, and while decoding).
    public var maxAudioSeconds = 600.0
    /// Most audio in one request, seconds, all inputs together.
    public var maxRequestAudioSeconds = 1800.0
    /// Audio held by all requests in flight, seconds (frames requests count 4x). Over it: 429.
    public var maxInflightAudioSeconds = 3600.0
    /// Upload bytes held by all connections at once. Over it: 429.
    public var maxInflightUploadBytes = 256 << 20
    /// Highest accepted sample rate (422 above).
    public var maxSampleRate = 384_000
    /// Most decoded samples per input (frames x channels); nil: 8 channels at 48 kHz for --max-audio-seconds.
    public var maxDecodedSamples: Int?
    /// Most inputs in one request.
    public var maxClientBatchSize = 32
    /// Most texts (or candidate labels) in one request: AudioSet's 527 labels fit.
    public var maxTexts = 1024
    /// Most UTF-8 bytes of one text (512 tokens of English are about 3 KB).
    public var maxTextBytes = 16 * 1024
    /// Text embeddings kept by text (labels sent again cost nothing); 0 turns the cache off.
    public var labelCacheEntries = 8192
    /// Most tokens of one request's texts together (about a minute of bert-base on 2 cores).
    public var maxRequestTokens = 65536
    /// The text encoder's products: fp32 (exact to the official runtime), or bf16 (opt-in, AVX512-BF16:
    /// 1.6-1.7x the texts/s, cosine >= 0.999 against fp32; docs/TEXT.md).
    public var textPrecision = GEMMEngine.Precision.fp32
    /// Admission limit: requests in flight beyond this get 429 at once. As many as the connection table
    /// holds by default (each connection carries one request at a time), so a burst that fits the table is
    /// queued, not refused; the budgets bound what the requests hold.
    public var maxConcurrentRequests = 256
    /// Most chunks per encoder call (batched across requests).
    public var maxBatchChunks = 32
    /// Work per encoder call, milliseconds (from the measured time per patch): it bounds how long a
    /// new request waits for the batch in progress. 0: no bound.
    public var maxBatchMs = 1000.0
    /// Longest wait for more work before running a partial batch, milliseconds.
    public var maxBatchDelayMs = 2.0
    /// Bearer key for inference and info routes; health, metrics and openapi stay open.
    public var apiKey: String?
    public var jsonLogs = false
    /// Seconds to finish in-flight work after SIGTERM; what is left is answered 503.
    public var shutdownTimeout = 30.0
    /// Connection table, per-address share, deadlines and the slowest accepted body.
    public var connections = ConnectionPolicy()
    /// Readiness turns 503 when work waits and no batch finished for this long.
    public var stallTimeout = 30.0
    /// GEMM backend (auto = oneDNN when libdnnl loads) and precision.
    public var backend = GEMMEngine.Backend.auto
    public var precision = GEMMEngine.Precision.fp32
    /// Run one forward pass before reporting ready.
    public var warmUp = true

    public init() {}

    public var decodeLimits: DecodeLimits {
        DecodeLimits(
            maxSeconds: maxAudioSeconds, maxSampleRate: maxSampleRate,
            maxDecodedSamples: maxDecodedSamples ?? DecodeLimits.defaultDecodedSamples(maxSeconds: maxAudioSeconds))
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Refuses contradictory or impossible settings, naming the flag.
    public func validate() throws(Invalid) {
        func fail(_ m: String) -> Invalid { Invalid(description: m) }
        if port < 0 || port > 65535 { throw fail("--port must be 0...65535") }
        if let adminPort, adminPort < 0 || adminPort > 65535 { throw fail("--admin-port must be 0...65535") }
        if let adminPort, adminPort != 0, adminPort == port { throw fail("--admin-port must differ from --port") }
        if payloadLimit < 1024 { throw fail("--payload-limit must be at least 1024 bytes") }
        if maxAudioSeconds <= 0 { throw fail("--max-audio-seconds must be positive") }
        if maxRequestAudioSeconds < maxAudioSeconds {
            throw fail(
                "--max-request-audio-seconds (\(maxRequestAudioSeconds)) must be at least "
                    + "--max-audio-seconds (\(maxAudioSeconds))"
            )
        }
        if maxInflightAudioSeconds < maxRequestAudioSeconds {
            throw fail(
                "--max-inflight-audio-seconds (\(maxInflightAudioSeconds)) must be at least "
                    + "--max-request-audio-seconds (\(maxRequestAudioSeconds))")
        }
        if maxInflightUploadBytes < payloadLimit {
            throw fail("--max-inflight-upload-mb must hold at least one --payload-limit body")
        }
        if maxSampleRate < 8000 { throw fail("--max-sample-rate must be at least 8000") }
        if let maxDecodedSamples, maxDecodedSamples < 1 { throw fail("--max-decoded-samples must be positive") }
        if maxClientBatchSize < 1 || maxConcurrentRequests < 1 || maxBatchChunks < 1 {
            throw fail("--max-client-batch-size, --max-concurrent-requests and --max-batch-chunks must be at least 1")
        }
        if textPrecision == .int8 { throw fail("--text-precision must be fp32 or bf16") }
        if !(1...100_000).contains(maxTexts) || !(1...(1 << 20)).contains(maxTextBytes)
            || !(0...1_000_000).contains(labelCacheEntries) || !(1...(1 << 24)).contains(maxRequestTokens)
        {
            throw fail(
                "--max-texts must be 1...100000, --max-text-bytes 1...1048576, --label-cache-entries 0...1000000, "
                    + "--max-request-tokens 1...16777216")
        }
        if maxBatchDelayMs < 0 || maxBatchMs < 0 { throw fail("--max-batch-delay-ms and --max-batch-ms must be >= 0") }
        if let threads, threads < 1 { throw fail("--threads must be 0 (all cores) or more") }
        let n = connections
        if shutdownTimeout < 0 || n.idleTimeout < 1 || n.headerTimeout <= 0 || stallTimeout <= 0 {
            throw fail(
                "--shutdown-timeout must be >= 0; --connection-timeout, --header-timeout and --stall-timeout positive")
        }
        if n.minReceiveRate < 0 || n.receiveGrace < 0 {
            throw fail("--min-receive-rate and --receive-grace must be >= 0")
        }
        if n.limit < 2 || n.perAddressLimit < 0 {
            throw fail("--connection-limit must be >= 2, --max-connections-per-ip >= 0")
        }
    }
}

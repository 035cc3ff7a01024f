// ServerApp: the HTTP handler. Routes requests (PEERS-AND-API.md section 3), enforces auth,
// readiness and admission, runs inference through the EmbeddingService off the daemon threads,
// and writes one log line and the metrics of every request.
import Crypto
import Foundation
import Logging
import M2DModel
import M2DTensor

public final class ServerApp: HTTPHandler, @unchecked Sendable {
    // SAFETY: `service` and `modelSHA` are set once under `lock` when loading finishes; everything
    // else is immutable or thread-safe (ServerState, ServerMetrics, Logger).
    public static let version = "0.1.0"
    public let config: ServerConfig
    public let state: ServerState
    public let metrics: ServerMetrics
    let logger: Logger
    private let lock = NSLock()
    private var _service: EmbeddingService?
    private var _heads: [String: ProbeHead] = [:]
    private var modelSHA = ""

    public init(config: ServerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
        state = ServerState(maxInflight: config.maxConcurrentRequests)
        metrics = ServerMetrics(version: Self.version, model: (config.modelPath as NSString).lastPathComponent, blas: BLAS.coreName)
    }

    public var service: EmbeddingService? { lock.withLock { _service } }

    func install(_ service: EmbeddingService, sha: String) {
        lock.withLock { _service = service; modelSHA = sha }
    }

    public var heads: [String: ProbeHead] { lock.withLock { _heads } }

    /// Replaces the probe heads (start-up and SIGHUP); requests in flight keep the set they took.
    public func installHeads(_ heads: [String: ProbeHead]) { lock.withLock { _heads = heads } }

    // MARK: HTTPHandler

    public func maxBodyBytes(for head: RequestHead) -> Int { config.payloadLimit }

    public func preflight(_ head: RequestHead) -> HTTPResponse? {
        let start = Clock.nanos
        func reject(_ error: ServerError, route: String, openAI: Bool = false) -> HTTPResponse {
            if let reason = error.rejectionReason { metrics.rejected(reason) }
            let response = ErrorBody.response(error, openAI: openAI, requestID: head.requestID)
            finish(head: head, route: route, response: response, start: start, bytes: 0, audioSeconds: 0, timings: nil)
            return response
        }
        guard let route = Route.match(head.path) else {
            return reject(.notFound("no route \(head.path); see /openapi.yaml"), route: "unknown")
        }
        guard route.methods.contains(head.method) else {
            return reject(.methodNotAllowed(allowed: route.methods), route: route.rawValue, openAI: route.isOpenAI)
        }
        if route.needsKey, let key = config.apiKey, !Self.authorized(head.headers["authorization"], key: key) {
            return reject(.unauthorized, route: route.rawValue, openAI: route.isOpenAI)
        }
        if route.isInference {
            let phase = state.phase
            if phase != .ready { return reject(.unavailable(status: phase.rawValue, reason: state.reason), route: route.rawValue, openAI: route.isOpenAI) }
            if state.inflight >= state.maxInflight { return reject(.overloaded, route: route.rawValue, openAI: route.isOpenAI) }
        }
        return nil
    }

    public func bodyTooLarge(_ head: RequestHead, limit: Int) -> HTTPResponse {
        let route = Route.match(head.path)
        metrics.rejected("payload_too_large")
        let hint = head.mediaType == "application/json" ? "; base64 in JSON adds 33%, multipart or a raw body does not" : ""
        let response = ErrorBody.response(.payloadTooLarge("request body exceeds \(limit) bytes (--payload-limit)\(hint)"),
                                          openAI: route?.isOpenAI ?? false, requestID: head.requestID)
        finish(head: head, route: route?.rawValue ?? "unknown", response: response, start: Clock.nanos, bytes: limit, audioSeconds: 0, timings: nil)
        return response
    }

    public func malformedBody(_ head: RequestHead, reason: String) -> HTTPResponse {
        let route = Route.match(head.path)
        let response = ErrorBody.response(.invalidRequest(reason), openAI: route?.isOpenAI ?? false, requestID: head.requestID ?? UUID().uuidString.lowercased())
        finish(head: head, route: route?.rawValue ?? "unknown", response: response, start: Clock.nanos, bytes: 0, audioSeconds: 0, timings: nil)
        return response
    }

    public func handle(_ request: HTTPRequest, respond: @escaping @Sendable (HTTPResponse) -> Void) {
        let route = Route.match(request.head.path) ?? .live
        let requestID = request.head.requestID ?? UUID().uuidString.lowercased()
        let bytes = request.body.count + request.parts.reduce(0) { $0 + $1.data.count }
        let reply: @Sendable (HTTPResponse, Double, ServiceTimings?) -> Void = { [self] response, audioSeconds, timings in
            var response = response
            if request.head.method == "HEAD" { response.body = [] }
            response.headers.append(("x-request-id", requestID))
            finish(head: request.head, route: route.rawValue, response: response, start: request.receivedNanos,
                   bytes: bytes, audioSeconds: audioSeconds, timings: timings, requestID: requestID)
            respond(response)
        }
        switch route {
        case .live: reply(.json(200, #"{"status":"ok"}"#), 0, nil)
        case .ready, .health: reply(readiness(), 0, nil)
        case .metrics:
            let depth = service?.worker.queueDepth ?? 0
            reply(HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                               body: metrics.scrape(queueDepth: depth, inflight: state.inflight, ready: state.phase == .ready)), 0, nil)
        case .openapi: reply(.text(200, OpenAPIDocument.yaml, contentType: "application/yaml"), 0, nil)
        case .info: reply(.json(200, info()), 0, nil)
        case .openAIModels: reply(.json(200, models()), 0, nil)
        case .embed, .openAIEmbeddings, .classify:
            let fail: @Sendable (ServerError, ServiceTimings?) -> Void = { [self] error, timings in
                if let reason = error.rejectionReason { metrics.rejected(reason) }
                if case .backend = error { state.recordInference(success: false) }
                reply(ErrorBody.response(error, openAI: route.isOpenAI), 0, timings)
            }
            guard state.admit() else { return fail(.overloaded, nil) }
            do {
                try infer(route: route, request: request) { [self] result in
                    defer { state.release() }
                    switch result {
                    case let .success((body, seconds, t)):
                        var response = HTTPResponse.json(200, body)
                        response.headers += [
                            ("x-total-time", String(format: "%.1f", Clock.ms(since: request.receivedNanos))),
                            ("x-decode-time", String(format: "%.1f", Double(t.decodeNanos) / 1e6)),
                            ("x-queue-time", String(format: "%.1f", Double(t.queueNanos) / 1e6)),
                            ("x-inference-time", String(format: "%.1f", Double(t.inferenceNanos) / 1e6)),
                            ("x-audio-seconds", String(format: "%.3f", seconds)),
                        ]
                        state.recordInference(success: true)
                        reply(response, seconds, t)
                    case let .failure(failure):
                        fail(failure.error, failure.timings)
                    }
                }
            } catch {
                state.release()
                fail(error, nil)
            }
        }
    }

    // MARK: routes

    struct InferenceFailure: Error { let error: ServerError; let timings: ServiceTimings }

    /// Parses and validates synchronously (throws for bad requests), then embeds asynchronously.
    private func infer(route: Route, request: HTTPRequest,
                       completion: @escaping @Sendable (Result<(String, Double, ServiceTimings), InferenceFailure>) -> Void) throws(ServerError) {
        guard let service else { throw .unavailable(status: "loading", reason: state.reason) }
        let heads = self.heads
        if route == .classify, heads.isEmpty {
            throw .notFound("this model has no probe heads; add heads/<name>.safetensors to the model directory (m2d-train probe) and send SIGHUP")
        }
        let (inputs, options) = try InputParser.parse(request, jsonInputKey: route == .openAIEmbeddings ? "input" : "inputs",
                                                      maxItems: config.maxClientBatchSize)
        let model = service.config
        if route == .openAIEmbeddings {
            if let d = options.dimensions, d != model.embeddingDim {
                throw .validation("dimensions must be \(model.embeddingDim) (M2D embeddings cannot be shortened)", param: "dimensions")
            }
            if let m = options.model, m != model.name {
                logger.warning("request names model '\(m)'; serving '\(model.name)'")
            }
        } else if let m = options.model, m != model.name {
            throw .validation("model '\(m)' is not served; this server serves '\(model.name)'", param: "model")
        }
        var head: ProbeHead?
        if route == .classify {
            let names = heads.keys.sorted()
            if let name = options.head {
                guard let h = heads[name] else { throw .notFound("unknown head '\(name)'; heads: \(names.joined(separator: ", "))") }
                head = h
            } else if names.count == 1 {
                head = heads[names[0]]
            } else {
                throw .validation("several heads are loaded; choose one with 'head': \(names.joined(separator: ", "))", param: "head")
            }
        }
        let chosenHead = head
        service.embed(inputs) { [self] result, timings in
            switch result {
            case let .failure(error):
                completion(.failure(InferenceFailure(error: error, timings: timings)))
            case let .success(items):
                let seconds = items.reduce(0) { $0 + $1.prepared.durationSeconds }
                for item in items { metrics.audioInputSeconds.record(item.prepared.durationSeconds) }
                metrics.audioSecondsTotal.increment(by: seconds)
                metrics.decode(format: items.first.map { String($0.prepared.format.split(separator: "/")[0]).lowercased() } ?? "unknown",
                               seconds: Double(timings.decodeNanos) / 1e9)
                metrics.queueDuration.record(Double(timings.queueNanos) / 1e9)
                let body: String
                if let chosenHead {
                    metrics.classification(head: chosenHead.name)
                    body = EmbedResponses.classification(items, head: chosenHead, options: options)
                } else if route == .openAIEmbeddings {
                    body = EmbedResponses.openAI(items, options: options, model: model)
                } else {
                    body = EmbedResponses.native(items, options: options, model: model)
                }
                completion(.success((body, seconds, timings)))
            }
        }
    }

    private func readiness() -> HTTPResponse {
        let phase = state.phase
        if phase == .ready, let stalled = service?.worker.stalledSeconds, stalled > 30 {
            return .json(503, #"{"status":"unhealthy","error":"inference worker has made no progress for \#(Int(stalled)) s","error_type":"unhealthy","code":503}"#,
                         headers: [("Retry-After", "5")])
        }
        if phase == .ready { return .json(200, #"{"status":"ok"}"#) }
        return .json(503, #"{"status":"\#(phase.rawValue)","error":\#(JSON.string(state.reason)),"error_type":"unhealthy","code":503}"#,
                     headers: [("Retry-After", "5")])
    }

    private func info() -> String {
        let sha = lock.withLock { modelSHA }
        let env = ProcessInfo.processInfo.environment
        var fields: [String] = []
        if let s = service {
            let c = s.config
            fields += [
                #""model_id":\#(JSON.string(c.name))"#, #""model_sha":\#(JSON.string(sha))"#, #""model_dtype":"float32""#,
                #""embedding_dim":\#(c.embeddingDim)"#, #""sample_rate":\#(c.sampleRate)"#,
                #""chunk_seconds":\#(JSON.number(Double(c.chunkFrames * c.hopLength) / Double(c.sampleRate)))"#,
                #""frame_hop_ms":\#(JSON.number(Double(c.patchWidth * c.hopLength) * 1000 / Double(c.sampleRate)))"#,
                #""flat_features":\#(c.flatFeatures)"#,
                #""architecture":{"embed_dim":\#(c.embedDim),"depth":\#(c.depth),"num_heads":\#(c.numHeads),"input_size":[\#(c.inputSize[0]),\#(c.inputSize[1])],"patch_size":[\#(c.patchSize[0]),\#(c.patchSize[1])]}"#,
                #""norm_stats":\#(JSON.floats(c.normStats))"#,
                #""provenance":\#(c.provenance.flatMap { try? String(decoding: JSONEncoder().encode($0), as: UTF8.self) } ?? "null")"#,
            ]
        }
        fields += [
            #""status":"\#(state.phase.rawValue)""#, #""heads":\#(headsJSON())"#,
            #""max_concurrent_requests":\#(config.maxConcurrentRequests)"#, #""max_client_batch_size":\#(config.maxClientBatchSize)"#,
            #""max_batch_chunks":\#(config.maxBatchChunks)"#, #""max_batch_delay_ms":\#(JSON.number(config.maxBatchDelayMs))"#,
            #""payload_limit":\#(config.payloadLimit)"#, #""max_audio_seconds":\#(JSON.number(config.maxAudioSeconds))"#,
            #""backend":{"engine":\#(JSON.string(service?.engineSummary ?? "loading")),"openblas_core":\#(JSON.string(BLAS.coreName)),"threads":\#(BLAS.threads)}"#,
            #""version":"\#(Self.version)""#, #""sha":\#(JSON.string(env["M2D_BUILD_SHA"] ?? "unknown"))"#,
            #""docker_label":\#(env["M2D_DOCKER_LABEL"].map(JSON.string) ?? "null")"#,
        ]
        return "{" + fields.joined(separator: ",") + "}"
    }

    private func headsJSON() -> String {
        "[" + heads.values.sorted { $0.name < $1.name }.map { h in
            let metric = h.report["metric"] ?? "accuracy"
            let score = h.report["test_\(metric)"].flatMap(Double.init).map { JSON.number($0) } ?? "null"
            return #"{"name":\#(JSON.string(h.name)),"labels":[\#(h.labels.map(JSON.string).joined(separator: ","))],"multi_label":\#(h.multiLabel),"default_function":"\#(h.defaultActivation.rawValue)","metric":\#(JSON.string(metric)),"reported_score":\#(score),"task":\#(h.report["task"].map(JSON.string) ?? "null")}"#
        }.joined(separator: ",") + "]"
    }

    private func models() -> String {
        let name = service?.config.name ?? (config.modelPath as NSString).lastPathComponent
        return #"{"object":"list","data":[{"id":\#(JSON.string(name)),"object":"model","created":\#(Int(Date().timeIntervalSince1970)),"owned_by":"m2d-serve"}]}"#
    }

    // MARK: helpers

    /// Constant-time comparison of the bearer token with the key.
    static func authorized(_ header: String?, key: String) -> Bool {
        guard let header, header.lowercased().hasPrefix("bearer ") else { return false }
        let given = Array(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8), expected = Array(key.utf8)
        var diff = UInt8(given.count == expected.count ? 0 : 1)
        for i in 0..<max(given.count, expected.count) {
            diff |= (i < given.count ? given[i] : 0) ^ (i < expected.count ? expected[i] : 0)
        }
        return diff == 0
    }

    private func finish(head: RequestHead, route: String, response: HTTPResponse, start: UInt64, bytes: Int,
                        audioSeconds: Double, timings: ServiceTimings?, requestID: String? = nil) {
        let seconds = Double(Clock.nanos &- start) / 1e9
        metrics.request(route: route, status: response.status, seconds: seconds, bytes: bytes)
        var meta: Logger.Metadata = [
            "id": .string(requestID ?? head.requestID ?? "-"), "method": .string(head.method), "route": .string(route),
            "status": .stringConvertible(response.status), "ms": .string(String(format: "%.1f", seconds * 1000)),
        ]
        if audioSeconds > 0 { meta["audio_s"] = .string(String(format: "%.2f", audioSeconds)) }
        if let t = timings {
            meta["queue_ms"] = .string(String(format: "%.1f", Double(t.queueNanos) / 1e6))
            meta["inference_ms"] = .string(String(format: "%.1f", Double(t.inferenceNanos) / 1e6))
        }
        if route == "/health/live" || route == "/metrics" || route == "/health/ready" {
            logger.debug("request", metadata: meta)
        } else {
            logger.info("request", metadata: meta)
        }
    }

    /// sha256 of a file, hex.
    static func sha256(path: String) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try? handle.read(upToCount: 1 << 22), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

// ServerRunner: the lifecycle. Bind first (liveness answers at once), then load the model and
// warm up, then report ready. On SIGTERM: readiness 503 "draining", no new connections, idle ones
// closed, in-flight work finishes; at --shutdown-timeout whatever is left is answered 503; every
// suspended connection is resumed before the daemon stops, and the process exits 0.
import Foundation
import Logging
import M2DAudio
import M2DModel
import M2DText
import M2DTensor

/// What serving needs from a model: its config, an engine that runs it, and its file's hash.
public struct LoadedEngine: Sendable {
    public let model: ModelConfig
    public let engine: any EncoderEngine
    public let sha: String

    public init(model: ModelConfig, engine: any EncoderEngine, sha: String) {
        self.model = model
        self.engine = engine
        self.sha = sha
    }

    /// The model directory or .pth of `config`, on the GEMM engine it asks for.
    public static func load(_ config: ServerConfig) throws -> LoadedEngine {
        let gemm: GEMMEngine
        do { gemm = try GEMMEngine(backend: config.backend, precision: config.precision, ownsWeights: true) } catch {
            throw ServerError.backend(error.description)
        }
        // Before the server is ready nothing decodes, so OpenBLAS's global thread count may change here.
        gemm.leaveOpenBLASToTheFrontEnd()
        let model = try ModelDirectory.loadAny(config.modelPath, engine: gemm)
        let file = config.modelPath.hasSuffix(".pth") ? config.modelPath : config.modelPath + "/model.safetensors"
        return LoadedEngine(
            model: model.config, engine: ViTEncoder(weights: model.weights, engine: gemm),
            sha: ModelRegistry.sha256(path: file))
    }
}

public final class ServerRunner: @unchecked Sendable {
    // SAFETY: the daemons are set in start() before any other thread sees self; loadError under `lock`.
    public let app: ServerApp
    private var daemon: MHDDaemon?
    private var admin: MHDDaemon?
    private let logger: Logger
    private let loader: @Sendable (ServerConfig) throws -> LoadedEngine
    private let lock = NSLock()
    private var _loadError: String?
    private let loaded = DispatchSemaphore(value: 0)
    /// Runs on the loading thread before the model is loaded (tests use it to hold the server in "loading").
    public var beforeLoad: (@Sendable () -> Void)?
    public private(set) var adminPort: Int?

    public init(
        config: ServerConfig, logger: Logger,
        loader: @escaping @Sendable (ServerConfig) throws -> LoadedEngine = LoadedEngine.load
    ) {
        self.logger = logger
        self.loader = loader
        app = ServerApp(config: config, logger: logger)
    }

    public var loadError: String? { lock.withLock { _loadError } }

    /// Binds both ports and starts serving, then loads the model in the background. Returns the main port.
    @discardableResult
    public func start() throws -> Int {
        let config = app.config
        if let threads = config.threads { BLAS.threads = threads }
        let events: @Sendable (String) -> Void = { [metrics = app.metrics] in metrics.connectionEvent($0) }
        var options = MHDDaemon.Options()
        options.host = config.host
        options.port = config.port
        options.connections = config.connections
        options.discardLimit = max(64 << 20, config.payloadLimit)
        options.uploadBudget = app.uploadBudget
        let daemon = MHDDaemon(handler: app.router(admin: false), options: options)
        daemon.onConnectionEvent = events
        let port = try daemon.start()
        self.daemon = daemon
        if let adminPort = config.adminPort {
            var adminOptions = options
            adminOptions.port = adminPort
            adminOptions.connections.limit = 32
            adminOptions.connections.perAddressLimit = 0
            adminOptions.uploadBudget = nil
            let admin = MHDDaemon(handler: app.router(admin: true), options: adminOptions)
            admin.onConnectionEvent = events
            do { self.adminPort = try admin.start() } catch {
                daemon.stop()
                throw error
            }
            self.admin = admin
        }
        logger.info(
            "listening",
            metadata: [
                "host": .string(config.host), "port": .stringConvertible(port),
                "admin_port": .string(adminPort.map(String.init) ?? "off"),
            ])
        let thread = Thread { [self] in self.load() }
        thread.name = "m2d-load"
        thread.start()
        return port
    }

    private func load() {
        beforeLoad?()
        let config = app.config
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let loaded = try loader(config)
            let metrics = app.metrics
            var hooks = InferenceScheduler.Hooks()
            hooks.batch = { chunks, seconds in
                metrics.batchChunks.record(Double(chunks))
                metrics.inferenceDuration.record(seconds)
            }
            hooks.cancelled = { chunks in metrics.cancelledChunks.increment(by: Double(chunks)) }
            let scheduler = InferenceScheduler(
                engine: loaded.engine, maxBatchChunks: config.maxBatchChunks, maxBatchMs: config.maxBatchMs,
                maxBatchDelayMs: config.maxBatchDelayMs, capacity: config.maxConcurrentRequests,
                stallTimeoutSeconds: config.stallTimeout, hooks: hooks)
            let service = EmbeddingService(model: loaded.model, scheduler: scheduler, config: config)
            scheduler.start()
            if config.warmUp {
                app.state.set(.loading, reason: "warming up")
                // One full chunk: it builds the full-width kernels and seeds the scheduler's cost per patch.
                let c = loaded.model
                let noise = (0..<((c.chunkFrames - 1) * c.hopLength)).map { i in Float(sin(Double(i) * 0.05) * 0.1) }
                _ = try service.embedBlocking([
                    AudioInput(name: "warm-up", bytes: WavEncoder.pcm16(noise, sampleRate: loaded.model.sampleRate))
                ])
            }
            app.registry.install(service, sha: loaded.sha)
            try reloadHeads()
            app.state.set(.ready, reason: "")
            logger.info(
                "ready",
                metadata: [
                    "model": .string(loaded.model.name), "dim": .stringConvertible(loaded.model.embeddingDim),
                    "load_ms": .string(
                        String(format: "%.0f", Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e6)),
                    "engine": .string(scheduler.engineSummary), "threads": .stringConvertible(scheduler.computeThreads),
                ])
        } catch {
            let message = "\(error)"
            lock.withLock { _loadError = message }
            app.state.set(.failed, reason: "model failed to load: \(message)")
            logger.error("model failed to load", metadata: ["error": .string(message)])
        }
        loaded.signal()
    }

    /// (Re)loads `<model>/heads/*.safetensors`; a bad head keeps the previous set and is logged.
    public func reloadHeads() throws(ModelError) {
        let path = app.config.modelPath
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue,
            let service = app.registry.service
        else { return }
        let heads = try ProbeHead.loadAll(modelDirectory: path, config: service.model)
        let projection = try AudioProjection.load(modelDirectory: path, dim: service.model.embedDim)
        let text: TextService?
        do {
            let folder = path + "/" + TextModel.folder
            let hasText = FileManager.default.fileExists(atPath: folder)
            if let old = app.registry.text, hasText, !old.model.fingerprint.isEmpty,
                old.model.fingerprint == TextModel.fingerprint(folder)
            {
                // Unchanged since it was loaded: keep it, its packed weights and its label cache.
                text = old
            } else {
                text = try TextModel.load(modelDirectory: path, engine: hasText ? Self.textEngine(app.config) : nil)
                    .map {
                        TextService(
                            model: $0, scheduler: service.scheduler, cacheEntries: app.config.labelCacheEntries,
                            maxTextBytes: app.config.maxTextBytes, maxRequestTokens: app.config.maxRequestTokens)
                    }
            }
        } catch { throw .invalidConfig("\(path)/\(TextModel.folder): \(error)") }
        for head in heads.values.sorted(by: { $0.name < $1.name }) {
            if let warning = head.labelsWarning { logger.warning("\(warning)", metadata: ["head": .string(head.name)]) }
        }
        app.registry.installExtras(heads: heads, projection: projection, text: text)
        logger.info(
            "heads loaded",
            metadata: [
                "heads": .string(heads.keys.sorted().joined(separator: ",")),
                "text_encoder": .string(text.map { "\($0.model.config.layers)x\($0.model.config.hidden)" } ?? "none"),
            ])
    }

    /// The text encoder's own engine: --text-precision (fp32 by default) whatever the audio precision, its
    /// weights packed once on the fused
    /// encoder's thread team (OpenBLAS keeps one thread for the front ends), or nil (OpenBLAS) without oneDNN.
    /// Its own, not the audio engine: a SIGHUP may load a text side while the audio engine runs.
    static func textEngine(_ config: ServerConfig) -> GEMMEngine? {
        guard config.backend != .openblas else { return nil }
        return try? GEMMEngine(
            backend: .onednn, precision: config.textPrecision, ownsWeights: true,
            fusedThreads: config.threads ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Waits until loading finished (successfully or not); true when ready.
    public func waitUntilLoaded(timeout: Double = 120) -> Bool {
        if loaded.wait(timeout: .now() + timeout) == .timedOut { return false }
        loaded.signal()
        return app.state.phase == .ready
    }

    /// Drains (see the file header) within `timeout` seconds, then stops both ports.
    public func drainAndStop(timeout: Double) {
        app.state.set(.draining, reason: "shutting down")
        logger.info("draining", metadata: ["inflight": .stringConvertible(app.state.inflight)])
        daemon?.beginDrain()
        let deadline = Date(timeIntervalSinceNow: timeout)
        while (daemon?.activeRequests ?? 0) > 0 && Date() < deadline { usleep(10_000) }
        if let daemon, daemon.activeRequests > 0 {
            let answered = daemon.answerSuspended()
            logger.warning("shutdown timeout reached", metadata: ["answered_503": .stringConvertible(answered)])
            // Let those answers reach their sockets.
            let flush = Date(timeIntervalSinceNow: 2)
            while Date() < flush && (daemon.suspendedRequests > 0 || daemon.activeRequests > 0) { usleep(10_000) }
        }
        daemon?.stop()
        admin?.stop()
        app.registry.service?.scheduler.stop(timeout: 2)
        logger.info("stopped")
    }

    /// Blocks until SIGTERM or SIGINT, then drains and returns 0. A second SIGINT exits at once;
    /// SIGHUP reloads the heads. A model that fails to load ends the process with 1.
    public func runUntilSignalled() -> Int32 {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        signal(SIGHUP, SIG_IGN)
        let done = DispatchSemaphore(value: 0)
        let queue = DispatchQueue(label: "m2d-signals")
        let term = DispatchSource.makeSignalSource(signal: SIGTERM, queue: queue)
        let int = DispatchSource.makeSignalSource(signal: SIGINT, queue: queue)
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        let interrupts = Counter()
        term.setEventHandler { done.signal() }
        int.setEventHandler {
            if interrupts.increment() >= 2 { exit(130) }
            done.signal()
        }
        hup.setEventHandler { [self] in
            do { try reloadHeads() } catch {
                logger.error("head reload failed; keeping the previous heads", metadata: ["error": .string("\(error)")])
            }
        }
        term.resume()
        int.resume()
        hup.resume()
        let watcher = Thread { [self] in
            _ = waitUntilLoaded(timeout: .infinity)
            if loadError != nil { done.signal() }
        }
        watcher.start()
        done.wait()
        if let error = loadError, app.state.phase != .draining {
            logger.critical("exiting: \(error)")
            daemon?.stop()
            admin?.stop()
            return 1
        }
        drainAndStop(timeout: app.config.shutdownTimeout)
        return 0
    }

    /// A count the signal queue keeps.
    private final class Counter: @unchecked Sendable {
        // SAFETY: touched only on the serial signal queue.
        private var value = 0
        func increment() -> Int { value += 1; return value }
    }
}

// ServerRunner: the lifecycle. Bind first (liveness answers at once), then load the model and
// warm up, then report ready. On drain: readiness 503 "draining", stop accepting, finish in-flight
// work (bounded by the shutdown timeout), stop.
import Foundation
import Logging
import M2DAudio
import M2DModel
import M2DTensor

public final class ServerRunner: @unchecked Sendable {
    // SAFETY: `daemon` is set in start() before any other thread sees self; loadError under `lock`.
    public let app: ServerApp
    private var daemon: MHDDaemon?
    private let logger: Logger
    private let lock = NSLock()
    private var _loadError: String?
    private let loaded = DispatchSemaphore(value: 0)
    /// Runs on the loading thread before the model is loaded (tests use it to hold the server in "loading").
    public var beforeLoad: (@Sendable () -> Void)?

    public init(config: ServerConfig, logger: Logger) {
        self.logger = logger
        app = ServerApp(config: config, logger: logger)
    }

    public var loadError: String? { lock.withLock { _loadError } }

    /// Binds and starts serving, then loads the model in the background. Returns the bound port.
    @discardableResult
    public func start() throws -> Int {
        let config = app.config
        if let threads = config.threads { BLAS.threads = threads }
        var options = MHDDaemon.Options()
        options.host = config.host
        options.port = config.port
        options.connectionTimeoutSeconds = config.connectionTimeout
        options.connectionLimit = config.connectionLimit
        let daemon = MHDDaemon(handler: app, options: options)
        let port = try daemon.start()
        self.daemon = daemon
        logger.info("listening", metadata: ["host": .string(config.host), "port": .stringConvertible(port)])
        let thread = Thread { [self] in self.load() }
        thread.name = "m2d-load"
        thread.start()
        return port
    }

    private func load() {
        beforeLoad?()
        let config = app.config
        let start = Clock.nanos
        do {
            let engine = try EmbeddingService.makeEngine(config)
            let model = try ModelDirectory.loadAny(config.modelPath, engine: engine)
            let sha = ServerApp.sha256(path: config.modelPath.hasSuffix(".pth") ? config.modelPath : config.modelPath + "/model.safetensors")
            let service = EmbeddingService(model: model, config: config, engine: engine)
            service.worker.onBatch = { [metrics = app.metrics] chunks, seconds in
                metrics.batchChunks.record(Double(chunks))
                metrics.inferenceDuration.record(seconds)
            }
            service.worker.start()
            if config.warmUp {
                app.state.set(.loading, reason: "warming up")
                let noise = (0..<16000).map { i in Float(sin(Double(i) * 0.05) * 0.1) }
                _ = try service.embedBlocking([AudioInput(name: "warm-up", bytes: WavEncoder.pcm16(noise, sampleRate: 16000))])
            }
            app.install(service, sha: sha)
            try reloadHeads()
            app.state.set(.ready, reason: "")
            logger.info("ready", metadata: ["model": .string(model.config.name), "dim": .stringConvertible(model.config.embeddingDim),
                                            "load_ms": .string(String(format: "%.0f", Clock.ms(since: start))),
                                            "engine": .string(service.engineSummary), "threads": .stringConvertible(BLAS.threads)])
        } catch {
            let message = "\(error)"
            lock.withLock { _loadError = message }
            app.state.set(.unhealthy, reason: "model failed to load: \(message)")
            logger.error("model failed to load", metadata: ["error": .string(message)])
        }
        loaded.signal()
    }

    /// (Re)loads `<model>/heads/*.safetensors`; a bad head keeps the previous set and is logged.
    public func reloadHeads() throws(ModelError) {
        let path = app.config.modelPath
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue, let service = app.service else { return }
        let heads = try ProbeHead.loadAll(modelDirectory: path, dim: service.config.embeddingDim)
        app.installHeads(heads)
        logger.info("heads loaded", metadata: ["heads": .string(heads.keys.sorted().joined(separator: ","))])
    }

    /// Waits until loading finished (successfully or not); true when ready.
    public func waitUntilLoaded(timeout: Double = 120) -> Bool {
        if loaded.wait(timeout: .now() + timeout) == .timedOut { return false }
        loaded.signal()
        return app.state.phase == .ready
    }

    /// Drains: readiness 503, stop accepting, wait for in-flight work up to `timeout`, then stop.
    public func drainAndStop(timeout: Double) {
        app.state.set(.draining, reason: "shutting down")
        logger.info("draining", metadata: ["inflight": .stringConvertible(app.state.inflight)])
        daemon?.quiesce()
        let deadline = Date(timeIntervalSinceNow: timeout)
        while app.state.inflight > 0 && Date() < deadline { usleep(10_000) }
        // Let the last responses reach their sockets.
        usleep(50_000)
        daemon?.stop()
        app.service?.worker.stop()
        logger.info("stopped")
    }

    /// Blocks until SIGTERM or SIGINT, then drains. A second SIGINT stops at once.
    public func runUntilSignalled() -> Int32 {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let done = DispatchSemaphore(value: 0)
        let queue = DispatchQueue(label: "m2d-signals")
        let term = DispatchSource.makeSignalSource(signal: SIGTERM, queue: queue)
        let int = DispatchSource.makeSignalSource(signal: SIGINT, queue: queue)
        nonisolated(unsafe) var interrupts = 0
        term.setEventHandler { done.signal() }
        int.setEventHandler {
            interrupts += 1
            if interrupts >= 2 { exit(130) }
            done.signal()
        }
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        signal(SIGHUP, SIG_IGN)
        hup.setEventHandler { [self] in
            do { try reloadHeads() } catch { logger.error("head reload failed; keeping the previous heads", metadata: ["error": .string("\(error)")]) }
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
        if let error = loadError {
            logger.critical("exiting: \(error)")
            daemon?.stop()
            return 1
        }
        drainAndStop(timeout: app.config.shutdownTimeout)
        return 0
    }
}

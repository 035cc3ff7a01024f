// ServerApp: the wiring. It holds the configuration, the lifecycle state, the model registry, the
// metrics and the logger, and makes the router of each port. Routing, handling and serving live
// in Routing/, Handlers/ and Inference/.
import Foundation
import Logging
import M2DTensor

public final class ServerApp: Sendable {
    public static let version = "0.2.0"
    public let config: ServerConfig
    public let state: ServerState
    public let registry = ModelRegistry()
    public let metrics: ServerMetrics
    public let uploadBudget: Budget
    let logger: Logger

    public init(config: ServerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
        state = ServerState(maxInflight: config.maxConcurrentRequests)
        uploadBudget = Budget(capacity: config.maxInflightUploadBytes)
        metrics = ServerMetrics(
            version: Self.version, model: (config.modelPath as NSString).lastPathComponent, blas: BLAS.coreName,
            precision: config.precision.rawValue)
    }

    /// The HTTP handler of the main port, or of the admin port (operational routes only).
    public func router(admin: Bool) -> any HTTPHandler { Router(app: self, adminPort: admin) }

    public var readiness: Readiness { Readiness.of(state, scheduler: registry.service?.scheduler) }

    func metricsSnapshot() -> ServerMetrics.Snapshot {
        var s = ServerMetrics.Snapshot()
        let service = registry.service
        s.queueDepth = service?.scheduler.queueDepth ?? 0
        s.pendingChunks = service?.scheduler.pendingChunks ?? 0
        s.inflight = state.inflight
        s.ready = readiness.isReady
        s.inflightAudioSeconds = Double(service?.audioBudget.inUse ?? 0) / 1000
        s.inflightUploadBytes = uploadBudget.inUse
        s.engineWeightBytes = service?.scheduler.engineWeightBytes ?? 0
        return s
    }
}

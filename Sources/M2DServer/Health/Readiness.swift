// Readiness: "can serve now". Ready means the model is loaded and warmed up, the server is not
// draining, and the inference worker is healthy: not stalled (work waiting with no batch finished
// for --stall-timeout; an idle worker is never stalled) and not failing (three failed batches in
// a row, cleared by the first batch that succeeds).

public struct Readiness: Sendable, Equatable {
    /// "ok", "loading", "draining", "failed", "stalled" or "unhealthy".
    public let status: String
    public let reason: String
    public var isReady: Bool { status == "ok" }

    public static func of(_ state: ServerState, scheduler: InferenceScheduler?) -> Readiness {
        let phase = state.phase
        guard phase == .ready else { return Readiness(status: phase.rawValue, reason: state.reason) }
        switch scheduler?.health ?? .ok {
        case .ok: return Readiness(status: "ok", reason: "")
        case let .stalled(seconds):
            return Readiness(
                status: "stalled",
                reason: "work is waiting and the inference worker has finished nothing "
                    + "for \(Int(seconds)) s")
        case let .failing(reason):
            return Readiness(
                status: "unhealthy", reason: "the last 3 inference batches failed (\(reason)); probing every 5 s")
        }
    }
}

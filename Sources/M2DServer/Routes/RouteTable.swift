// RouteTable: every path, its methods, and whether it needs the model and the API key.

public enum Route: String, Sendable, CaseIterable {
    case embed = "/embed"
    case classify = "/classify"
    case openAIEmbeddings = "/v1/embeddings"
    case openAIModels = "/v1/models"
    case info = "/info"
    case live = "/health/live"
    case ready = "/health/ready"
    case health = "/health"
    case metrics = "/metrics"
    case openapi = "/openapi.yaml"

    /// Aliases of PEERS-AND-API.md 3.1.
    static let aliases: [String: Route] = [
        "/embeddings": .openAIEmbeddings, "/models": .openAIModels, "/livez": .live, "/readyz": .ready,
        "/v2/health/live": .live, "/v2/health/ready": .ready,
    ]

    public static func match(_ path: String) -> Route? {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        return Route(rawValue: trimmed) ?? aliases[trimmed]
    }

    public var methods: [String] {
        switch self {
        case .embed, .classify, .openAIEmbeddings: ["POST"]
        default: ["GET", "HEAD"]
        }
    }

    /// Routes that run the model (need readiness and an admission slot).
    public var isInference: Bool { self == .embed || self == .classify || self == .openAIEmbeddings }

    /// Routes behind --api-key (health, metrics and the spec stay open).
    public var needsKey: Bool { isInference || self == .info || self == .openAIModels }

    /// OpenAI-shaped errors.
    public var isOpenAI: Bool { self == .openAIEmbeddings || self == .openAIModels }
}

// Route: every path, its methods, which handler family serves it, and what it needs (the model,
// the API key). Matched once per request, in the router's head check.

public enum Route: String, Sendable, CaseIterable {
    case embed = "/embed"
    case embedText = "/embed/text"
    case classify = "/classify"
    case openAIEmbeddings = "/v1/embeddings"
    case openAIModels = "/v1/models"
    case info = "/info"
    case live = "/health/live"
    case ready = "/health/ready"
    case health = "/health"
    case metrics = "/metrics"
    case openapi = "/openapi.yaml"
    case docs = "/docs"
    case docsScript = "/docs/swagger-ui-bundle.js"
    case docsStyle = "/docs/swagger-ui.css"

    /// The handler types, one per route family.
    public enum Family: Sendable { case embed, text, classify, openAI, info, operations, docs }

    /// Aliases of docs/HTTP-API.md §1.
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
        case .embed, .embedText, .classify, .openAIEmbeddings: ["POST"]
        default: ["GET", "HEAD"]
        }
    }

    public var family: Family {
        switch self {
        case .embed: .embed
        case .embedText: .text
        case .classify: .classify
        case .openAIEmbeddings, .openAIModels: .openAI
        case .info: .info
        case .live, .ready, .health, .metrics, .openapi: .operations
        case .docs, .docsScript, .docsStyle: .docs
        }
    }

    /// Routes that run the model (need readiness and an admission slot).
    public var isInference: Bool { [.embed, .embedText, .classify, .openAIEmbeddings].contains(self) }

    /// Routes behind --api-key (health, metrics and the spec stay open).
    public var needsKey: Bool { isInference || self == .info || self == .openAIModels }

    /// OpenAI-shaped errors.
    public var isOpenAI: Bool { self == .openAIEmbeddings || self == .openAIModels }

    /// Served on the admin port too.
    public var isOperational: Bool { family == .operations }
}

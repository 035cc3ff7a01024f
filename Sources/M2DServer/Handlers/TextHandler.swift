// TextHandler: CLAP text embeddings, POST /embed/text ({"inputs": [...]}) and POST /v1/embeddings with
// "modality": "text" (OpenAI's shape), through the text side of an M2D-CLAP model directory.
import Dispatch
import M2DText

struct TextHandler: RouteHandler {
    let app: ServerApp

    func respond(to request: AdmittedRequest, reply: @escaping @Sendable (Reply) -> Void) {
        let openAI = request.route.isOpenAI
        let parsed: ([String], RequestOptions)
        do throws(ServerError) {
            guard
                let found = try TextRequest.texts(
                    request.http, key: openAI ? "input" : "inputs", maxTexts: app.config.maxTexts,
                    maxTextBytes: app.config.maxTextBytes, requireTextModality: false)
            else { throw ServerError.invalidRequest("no texts in the request") }
            parsed = found
        } catch {
            if let reason = error.rejectionReason { app.metrics.rejected(reason) }
            return reply(.error(error, route: request.route))
        }
        run(parsed.0, options: parsed.1, request: request, reply: reply)
    }

    /// Embeds parsed texts and answers in the route's shape.
    func run(
        _ texts: [String], options: RequestOptions, request: AdmittedRequest,
        reply: @escaping @Sendable (Reply) -> Void
    ) {
        let route = request.route
        guard let service = app.registry.service, let ticket = request.ticket else {
            return reply(.error(.unavailable(status: "loading", reason: app.state.reason), route: route))
        }
        guard let text = app.registry.text else {
            return reply(.error(Self.noTextEncoder(app.config.modelPath), route: route))
        }
        if !route.isOpenAI, let m = options.model, m != service.model.name {
            return reply(
                .error(
                    .validation(
                        "model '\(m)' is not served; this server serves '\(service.model.name)'", param: "model"),
                    route: route))
        }
        if let d = options.dimensions, d != text.model.config.outputDim {
            return reply(
                .error(
                    .validation(
                        "dimensions must be \(text.model.config.outputDim) (text embeddings cannot be shortened)",
                        param: "dimensions"), route: route))
        }
        let metrics = app.metrics, name = service.model.name, start = DispatchTime.now().uptimeNanoseconds
        text.embed(texts, truncate: options.truncate, param: route.isOpenAI ? "input" : "inputs", ticket: ticket) {
            result, timings in
            switch result {
            case let .failure(error):
                if let reason = error.rejectionReason { metrics.rejected(reason) }
                reply(.error(error, route: route))
            case let .success(embedded):
                metrics.textRequest(
                    texts: texts.count, seconds: Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e9)
                let body = TextEmbedResponse(
                    embedded.vectors, options: options, model: name, dim: text.model.config.outputDim,
                    tokens: embedded.tokens, openAI: route.isOpenAI)
                var response = HTTPResponse.json(200, JSONResponse.bytes(body))
                response.headers.append(("x-queue-time", String(format: "%.1f", Double(timings.queueNanos) / 1e6)))
                reply(Reply(response))
            }
        }
    }

    static func noTextEncoder(_ model: String) -> ServerError {
        .notFound(TextModelError.noTextEncoder(model: model).description)
    }
}

/// The body of /embed/text and of /v1/embeddings for texts.
struct TextEmbedResponse: Encodable {
    typealias Item = OpenAIEmbedResponse.Item

    let object = "list"
    let model: String
    let dim: Int?
    let data: [Item]
    let usage: TokenUsage

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(object, forKey: .object)
        try c.encode(model, forKey: .model)
        if let dim { try c.encode(dim, forKey: .dim) }
        try c.encode(data, forKey: .data)
        try c.encode(usage, forKey: .usage)
    }

    enum CodingKeys: String, CodingKey { case object, model, dim, data, usage }

    init(_ embeddings: [[Float]], options: RequestOptions, model: String, dim: Int, tokens: Int, openAI: Bool) {
        self.model = model
        self.dim = openAI ? nil : dim
        data = embeddings.enumerated().map { Item(index: $0, embedding: EmbeddingValue($1, options: options)) }
        usage = TokenUsage(promptTokens: tokens, totalTokens: tokens)
    }
}

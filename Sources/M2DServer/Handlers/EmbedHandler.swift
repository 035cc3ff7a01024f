// EmbedHandler: POST /embed, clip embeddings (a DTO) or frame embeddings (streamed).

struct EmbedHandler: RouteHandler {
    let app: ServerApp

    func respond(to request: AdmittedRequest, reply: @escaping @Sendable (Reply) -> Void) {
        InferenceRun(app: app, jsonKey: "inputs").run(request, check: InferenceRun.requireModel, reply: reply) {
            (items, options, model) throws(ServerError) in
            switch options.granularity {
            case .clip: return .json(200, JSONResponse.bytes(ClipEmbedResponse(items, options: options, model: model)))
            case .frames:
                return HTTPResponse(
                    status: 200, headers: [("Content-Type", "application/json")],
                    stream: FramesStream(items, options: options, model: model))
            }
        }
    }
}

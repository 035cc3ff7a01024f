// OpenAIHandler: POST /v1/embeddings and GET /v1/models in OpenAI's shapes.
import Foundation
import Logging
import M2DModel

struct OpenAIHandler: RouteHandler {
    let app: ServerApp

    func respond(to request: AdmittedRequest, reply: @escaping @Sendable (Reply) -> Void) {
        guard request.route == .openAIEmbeddings else {
            let name = app.registry.service?.model.name ?? (app.config.modelPath as NSString).lastPathComponent
            let list = ModelList(data: [.init(id: name, created: Int(Date().timeIntervalSince1970))])
            return reply(Reply(.json(200, JSONResponse.bytes(list))))
        }
        // {"modality": "text"}: CLAP text embeddings (TextHandler), in the same OpenAI shape.
        do {
            if let (texts, options) = try TextRequest.texts(
                request.http, key: "input", maxTexts: app.config.maxTexts, maxTextBytes: app.config.maxTextBytes,
                requireTextModality: true)
            {
                return TextHandler(app: app).run(texts, options: options, request: request, reply: reply)
            }
        } catch {
            if let reason = error.rejectionReason { app.metrics.rejected(reason) }
            return reply(.error(error, route: request.route))
        }
        let logger = app.logger
        let check: (RequestOptions, ModelConfig) throws(ServerError) -> Void = { (options, model) throws(ServerError) in
            try InferenceRun.requireNoProjection(options)
            if let d = options.dimensions, d != model.embeddingDim {
                throw .validation(
                    "dimensions must be \(model.embeddingDim) (M2D embeddings cannot be shortened)", param: "dimensions"
                )
            }
            // OpenAI clients send their own model names: serve, but say so in the log.
            if let m = options.model, m != model.name {
                logger.warning("request names model '\(m)'; serving '\(model.name)'")
            }
        }
        InferenceRun(app: app, jsonKey: "input").run(request, keepFrames: { _ in false }, check: check, reply: reply) {
            items, options, model in
            .json(200, JSONResponse.bytes(OpenAIEmbedResponse(items, options: options, model: model)))
        }
    }
}

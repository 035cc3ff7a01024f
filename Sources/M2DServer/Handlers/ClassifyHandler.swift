// ClassifyHandler: POST /classify, the heads of <model>/heads/ over clip embeddings, or over each frame with
// granularity=frames; with candidate_labels, zero-shot through the M2D-CLAP text side (ZeroShot).
import M2DModel

struct ClassifyHandler: RouteHandler {
    let app: ServerApp

    func respond(to request: AdmittedRequest, reply: @escaping @Sendable (Reply) -> Void) {
        do {
            if let (labels, options) = try TextRequest.candidateLabels(
                request.http, maxLabels: app.config.maxTexts, maxBytes: app.config.maxTextBytes)
            {
                return zeroShot(labels, options: options, request: request, reply: reply)
            }
        } catch {
            if let reason = error.rejectionReason { app.metrics.rejected(reason) }
            return reply(.error(error, route: request.route))
        }
        let heads = app.registry.heads
        if heads.isEmpty {
            return reply(
                .error(
                    .notFound(
                        "this model has no probe heads; add heads/<name>.safetensors to the model directory "
                            + "(m2d-train probe) and send SIGHUP, or send candidate_labels for zero-shot (M2D-CLAP)"),
                    route: request.route))
        }
        let metrics = app.metrics
        let check: (RequestOptions, ModelConfig) throws(ServerError) -> Void = { (options, model) throws(ServerError) in
            try InferenceRun.requireModel(options, model)
            try InferenceRun.requireNoProjection(options)
            _ = try Self.choose(options.head, from: heads)
            if options.granularity == .frames, model.flatFeatures {
                throw .validation(
                    "granularity=frames needs a model with stacked features; this one has flat_features (tokens, "
                        + "not frames)", param: "granularity")
            }
        }
        InferenceRun(app: app, jsonKey: "inputs").run(request, check: check, reply: reply) {
            (items, options, model) throws(ServerError) in
            let head = try Self.choose(options.head, from: heads)
            metrics.classification(head: head.name)
            return .json(200, Classification.body(items, head: head, model: model, options: options))
        }
    }

    static func choose(_ name: String?, from heads: [String: ProbeHead]) throws(ServerError) -> ProbeHead {
        let names = heads.keys.sorted()
        if let name {
            guard let head = heads[name] else {
                throw .notFound("unknown head '\(name)'; heads: \(names.joined(separator: ", "))")
            }
            return head
        }
        guard names.count == 1 else {
            throw .validation(
                "several heads are loaded; choose one with 'head': \(names.joined(separator: ", "))", param: "head")
        }
        return heads[names[0]]!
    }
}

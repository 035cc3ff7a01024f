// EmbedHandler: POST /embed, clip embeddings (a DTO) or frame embeddings (streamed); with projection=clap the
// clip embeddings in the model's M2D-CLAP audio space (docs/HTTP-API.md §3).
import M2DModel

struct EmbedHandler: RouteHandler {
    let app: ServerApp

    func respond(to request: AdmittedRequest, reply: @escaping @Sendable (Reply) -> Void) {
        let projection = app.registry.projection
        let check: (RequestOptions, ModelConfig) throws(ServerError) -> Void = { (options, model) throws(ServerError) in
            try InferenceRun.requireModel(options, model)
            guard options.projection == .clap else { return }
            guard projection != nil else {
                throw .validation(
                    "this model has no audio projection; import an M2D-CLAP checkpoint (m2d-train import) to use "
                        + "projection=clap", param: "projection")
            }
            if options.granularity == .frames {
                throw .validation(
                    "projection=clap gives clip embeddings only; drop granularity=frames", param: "projection")
            }
        }
        // The 2025 projection attends over every patch token: it needs the frames, not only their mean.
        let keepFrames: @Sendable (RequestOptions) -> Bool = {
            $0.granularity == .frames || ($0.projection == .clap && projection?.kind == .semantic)
        }
        InferenceRun(app: app, jsonKey: "inputs").run(request, keepFrames: keepFrames, check: check, reply: reply) {
            (items, options, model) throws(ServerError) in
            if options.projection == .clap, let projection {
                let clips = items.map { Self.project($0.embedding, projection, model: model) }
                return .json(
                    200,
                    JSONResponse.bytes(
                        ClipEmbedResponse(items, options: options, model: model, clips: clips, dim: projection.dim)))
            }
            switch options.granularity {
            case .clip: return .json(200, JSONResponse.bytes(ClipEmbedResponse(items, options: options, model: model)))
            case .frames:
                return HTTPResponse(
                    status: 200, headers: [("Content-Type", "application/json")],
                    stream: FramesStream(items, options: options, model: model))
            }
        }
    }

    /// The clip's projection: from its frames read as D-wide patch tokens (stacked F per frame, or flat), or,
    /// for the MLP, from the clip's F stacked token means (their mean is the token mean).
    static func project(_ e: Embedding, _ projection: AudioProjection, model: ModelConfig) -> [Float] {
        let D = model.embedDim
        let source = projection.kind == .semantic && e.hasFrames ? e.frames : e.clip
        return source.withUnsafeBufferPointer { projection.project(tokens: $0.baseAddress!, count: source.count / D) }
    }
}

// Zero-shot /classify (docs/HTTP-API.md §3.6): `candidate_labels` put in `hypothesis_template` (default
// "{} can be heard", underscores read as spaces as the official ESC-50 notebook and EVAR do) and embedded by the
// text side (cached), each audio input's CLAP embedding (the audio projection), then per input the labels ranked
// by the cosine similarity of the two: raw with function_to_apply=none, else a softmax over the raw cosines
// (EVAR's zero-shot). A checkpoint's logit_scale is not applied: the official runtime ignores it too.
import Foundation
import M2DModel

enum ZeroShot {
    static let defaultTemplate = "{} can be heard"

    /// The prompt of one label.
    static func prompt(_ label: String, template: String) -> String {
        template.replacingOccurrences(of: "{}", with: label.replacingOccurrences(of: "_", with: " "))
    }

    /// Scores of one audio embedding against every label embedding: cosines, then the activation.
    static func scores(audio: [Float], labels: [[Float]], activation: RequestOptions.Activation) -> [Float] {
        let audioNorm = norm(audio)
        var out = labels.map { label -> Float in
            var dot: Float = 0
            for i in 0..<min(audio.count, label.count) { dot += audio[i] * label[i] }
            return dot / max(audioNorm * norm(label), 1e-12)
        }
        switch activation {
        case .none: break
        case .sigmoid: out = out.map { 1 / (1 + exp(-$0)) }
        case .softmax:
            let top = out.max() ?? 0
            let e = out.map { exp($0 - top) }
            let sum = e.reduce(0, +)
            out = e.map { $0 / sum }
        }
        return out
    }

    static func norm(_ v: [Float]) -> Float { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    /// The ranked answer of each input (one input: its list alone).
    static func body(_ audio: [[Float]], labels: [String], embeddings: [[Float]], options: RequestOptions) -> [UInt8] {
        let lists = audio.map { clip -> [LabelScore] in
            let s = scores(audio: clip, labels: embeddings, activation: options.functionToApply ?? .softmax)
            let order = s.indices.sorted { s[$0] > s[$1] }.prefix(options.topK ?? s.count)
            return order.map { LabelScore(label: labels[$0], score: s[$0]) }
        }
        return lists.count == 1 ? JSONResponse.bytes(lists[0]) : JSONResponse.bytes(lists)
    }
}

extension ClassifyHandler {
    /// /classify with candidate labels: the labels' embeddings first (cached), then the audio as
    /// /embed?projection=clap.
    func zeroShot(
        _ labels: [String], options: RequestOptions, request: AdmittedRequest,
        reply: @escaping @Sendable (Reply) -> Void
    ) {
        let route = request.route
        guard let text = app.registry.text, let ticket = request.ticket else {
            return reply(.error(TextHandler.noTextEncoder(app.config.modelPath), route: route))
        }
        guard let projection = app.registry.projection else {
            return reply(
                .error(
                    .notFound(
                        "this model has no M2D-CLAP audio projection (audio_proj.safetensors), so audio and text do "
                            + "not share a space; import an M2D-CLAP checkpoint with m2d-train import"), route: route))
        }
        if labels.isEmpty { return reply(.error(.empty("candidate_labels is an empty list"), route: route)) }
        if let blank = labels.firstIndex(where: { $0.allSatisfy(\.isWhitespace) }) {
            return reply(
                .error(.validation("candidate_labels[\(blank)] is empty", param: "candidate_labels"), route: route))
        }
        let template = options.hypothesisTemplate ?? ZeroShot.defaultTemplate
        let prompts = labels.map { ZeroShot.prompt($0, template: template) }
        let metrics = app.metrics, start = DispatchTime.now().uptimeNanoseconds
        text.embed(prompts, truncate: options.truncate, param: "candidate_labels", ticket: ticket) { result, _ in
            switch result {
            case let .failure(error): reply(.error(error, route: route))
            case let .success(embedded):
                metrics.textRequest(
                    texts: prompts.count, seconds: Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e9)
                classifyAudio(
                    request, labels: labels, embeddings: embedded.vectors, projection: projection, reply: reply)
            }
        }
    }

    private func classifyAudio(
        _ request: AdmittedRequest, labels: [String], embeddings: [[Float]], projection: AudioProjection,
        reply: @escaping @Sendable (Reply) -> Void
    ) {
        let check: (RequestOptions, ModelConfig) throws(ServerError) -> Void = { (options, model) throws(ServerError) in
            try InferenceRun.requireModel(options, model)
            try InferenceRun.requireNoProjection(options)
            if options.granularity == .frames {
                throw .validation("zero-shot scores clips; drop granularity=frames", param: "granularity")
            }
            if options.head != nil {
                throw .validation("head and candidate_labels exclude each other", param: "head")
            }
        }
        InferenceRun(app: app, jsonKey: "inputs").run(
            request, keepFrames: { _ in projection.kind == .semantic }, check: check, reply: reply
        ) { items, options, model in
            let audio = items.map { EmbedHandler.project($0.embedding, projection, model: model) }
            return .json(200, ZeroShot.body(audio, labels: labels, embeddings: embeddings, options: options))
        }
    }
}

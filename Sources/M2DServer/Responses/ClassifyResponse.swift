// The body of POST /classify: one input answers [{label, score}] sorted by score; several answer a list of
// those. With granularity=frames each input answers [{timestamp_ms, labels: [{label, score}]}], one entry per
// frame, as the official runtime's forward_frames (docs/HTTP-API.md §3).
import M2DModel

struct LabelScore: Encodable {
    let label: String
    let score: Float
}

struct FrameTags: Encodable {
    let timestampMs: Float
    let labels: [LabelScore]
    enum CodingKeys: String, CodingKey { case timestampMs = "timestamp_ms", labels }
}

enum Classification {
    /// Frame answers keep this many labels per frame unless top_k says otherwise (527 AudioSet scores for
    /// every 160 ms of a long clip would be a response of tens of megabytes).
    static let defaultFrameTopK = 5

    static func ranked(
        _ embedding: ArraySlice<Float>, head: ProbeHead, model: ModelConfig, options: RequestOptions, topK: Int?
    ) -> [LabelScore] {
        let activation = options.functionToApply.flatMap { ProbeHead.Activation(rawValue: $0.rawValue) }
        let scores = head.scores(head.features(embedding, embedDim: model.embedDim), activation: activation)
        let order = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(topK ?? scores.count)
        return order.map { LabelScore(label: head.labels[$0], score: scores[$0]) }
    }

    static func body(_ items: [EmbeddedClip], head: ProbeHead, model: ModelConfig, options: RequestOptions) -> [UInt8] {
        if options.granularity == .frames {
            let lists = items.map { item in
                let e = item.embedding
                return (0..<e.frameCount).map { i in
                    FrameTags(
                        timestampMs: e.timestampsMs[i],
                        labels: ranked(
                            e.frame(i), head: head, model: model, options: options,
                            topK: options.topK ?? defaultFrameTopK))
                }
            }
            return lists.count == 1 ? JSONResponse.bytes(lists[0]) : JSONResponse.bytes(lists)
        }
        let lists = items.map {
            ranked($0.embedding.clip[...], head: head, model: model, options: options, topK: options.topK)
        }
        return lists.count == 1 ? JSONResponse.bytes(lists[0]) : JSONResponse.bytes(lists)
    }
}

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

    static func activation(_ options: RequestOptions) -> ProbeHead.Activation? {
        options.functionToApply.flatMap { ProbeHead.Activation(rawValue: $0.rawValue) }
    }

    static func ranked(_ scores: ArraySlice<Float>, head: ProbeHead, topK: Int?) -> [LabelScore] {
        let base = scores.startIndex
        let order = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(topK ?? scores.count)
        return order.map { LabelScore(label: head.labels[$0 - base], score: scores[$0]) }
    }

    static func body(_ items: [EmbeddedClip], head: ProbeHead, model: ModelConfig, options: RequestOptions) -> [UInt8] {
        if options.granularity == .frames {
            let lists = items.map { item in
                let e = item.embedding, C = head.classes
                let scores = e.frames.withUnsafeBufferPointer {
                    head.frameScores(
                        $0.baseAddress!, count: e.frameCount, rowDim: e.dim, embedDim: model.embedDim,
                        activation: activation(options))
                }
                return (0..<e.frameCount).map { i in
                    FrameTags(
                        timestampMs: e.timestampsMs[i],
                        labels: ranked(
                            scores[(i * C)..<((i + 1) * C)], head: head, topK: options.topK ?? defaultFrameTopK))
                }
            }
            return lists.count == 1 ? JSONResponse.bytes(lists[0]) : JSONResponse.bytes(lists)
        }
        let lists = items.map {
            let x = head.features($0.embedding.clip[...], embedDim: model.embedDim)
            return ranked(head.scores(x, activation: activation(options))[...], head: head, topK: options.topK)
        }
        return lists.count == 1 ? JSONResponse.bytes(lists[0]) : JSONResponse.bytes(lists)
    }
}

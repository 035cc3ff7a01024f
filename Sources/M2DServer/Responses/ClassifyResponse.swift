// The body of POST /classify: one input answers [{label, score}] sorted by score; several answer
// a list of those (docs/HTTP-API.md §3).
import M2DModel

struct LabelScore: Encodable {
    let label: String
    let score: Float
}

enum Classification {
    static func scores(_ items: [EmbeddedClip], head: ProbeHead, options: RequestOptions) -> [[LabelScore]] {
        let activation = options.functionToApply.flatMap { ProbeHead.Activation(rawValue: $0.rawValue) }
        return items.map { item in
            let scores = head.scores(item.embedding.clip, activation: activation)
            let ranked = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(options.topK ?? scores.count)
            return ranked.map { LabelScore(label: head.labels[$0], score: scores[$0]) }
        }
    }

    static func body(_ items: [EmbeddedClip], head: ProbeHead, options: RequestOptions) -> [UInt8] {
        let lists = scores(items, head: head, options: options)
        return lists.count == 1 ? JSONResponse.bytes(lists[0]) : JSONResponse.bytes(lists)
    }
}

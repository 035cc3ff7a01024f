// JSON bodies of /embed and /v1/embeddings (PEERS-AND-API.md 3.3).
import Foundation
import M2DModel

enum EmbedResponses {
    static func l2Normalized<C: Collection>(_ v: C) -> [Float] where C.Element == Float {
        var norm = 0.0
        for x in v { norm += Double(x) * Double(x) }
        let scale = Float(1 / max(norm.squareRoot(), 1e-12))
        return v.map { $0 * scale }
    }

    static func tokens(_ e: EmbeddedInput, model: ModelConfig) -> Int {
        model.flatFeatures ? e.embedding.frameCount / model.freqPatches : e.embedding.frameCount
    }

    /// POST /embed.
    static func native(_ items: [EmbeddedInput], options: RequestOptions, model: ModelConfig) -> String {
        var data: [String] = []
        var audioSeconds = 0.0, tokenCount = 0
        for (i, item) in items.enumerated() {
            let e = item.embedding
            audioSeconds += item.prepared.durationSeconds
            tokenCount += tokens(item, model: model)
            var entry = #"{"object":"embedding","index":\#(i),"embedding":"#
            switch options.granularity {
            case .clip:
                let v = options.normalize ? l2Normalized(e.clip) : e.clip
                entry += options.encodingFormat == .base64 ? JSON.string(JSON.base64Floats(v)) : JSON.floats(v)
            case .frames:
                var frames: [Float] = []
                frames.reserveCapacity(e.frames.count)
                for f in 0..<e.frameCount { frames += options.normalize ? l2Normalized(e.frame(f)) : Array(e.frame(f)) }
                if options.encodingFormat == .base64 {
                    entry += JSON.string(JSON.base64Floats(frames)) + #","shape":[\#(e.frameCount),\#(e.dim)]"#
                } else {
                    entry += "[" + (0..<e.frameCount).map { JSON.floats(frames[($0 * e.dim)..<(($0 + 1) * e.dim)]) }.joined(separator: ",") + "]"
                }
                if !e.timestampsMs.isEmpty { entry += #","timestamps_ms":"# + JSON.floats(e.timestampsMs) }
            }
            entry += #","duration_seconds":\#(JSON.number(item.prepared.durationSeconds)),"input_sample_rate":\#(item.prepared.inputSampleRate),"input_channels":\#(item.prepared.inputChannels)}"#
            data.append(entry)
        }
        return #"{"object":"list","model":\#(JSON.string(model.name)),"dim":\#(model.embeddingDim),"data":[\#(data.joined(separator: ","))],"usage":{"audio_seconds":\#(JSON.number(audioSeconds)),"prompt_tokens":\#(tokenCount),"total_tokens":\#(tokenCount)}}"#
    }

    /// POST /v1/embeddings (OpenAI shape).
    static func openAI(_ items: [EmbeddedInput], options: RequestOptions, model: ModelConfig) -> String {
        var tokenCount = 0
        let data = items.enumerated().map { i, item -> String in
            tokenCount += tokens(item, model: model)
            let v = options.normalize ? l2Normalized(item.embedding.clip) : item.embedding.clip
            let value = options.encodingFormat == .base64 ? JSON.string(JSON.base64Floats(v)) : JSON.floats(v)
            return #"{"object":"embedding","index":\#(i),"embedding":\#(value)}"#
        }
        return #"{"object":"list","data":[\#(data.joined(separator: ","))],"model":\#(JSON.string(model.name)),"usage":{"prompt_tokens":\#(tokenCount),"total_tokens":\#(tokenCount)}}"#
    }

    /// POST /classify: one input -> [{label, score}] sorted by score; several -> a list of those.
    static func classification(_ items: [EmbeddedInput], head: ProbeHead, options: RequestOptions) -> String {
        let activation = options.functionToApply.flatMap { ProbeHead.Activation(rawValue: $0.rawValue) }
        let lists = items.map { item -> String in
            let scores = head.scores(item.embedding.clip, activation: activation)
            let ranked = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(options.topK ?? scores.count)
            return "[" + ranked.map { #"{"label":\#(JSON.string(head.labels[$0])),"score":\#(JSON.floats([scores[$0]]).dropFirst().dropLast())}"# }.joined(separator: ",") + "]"
        }
        return lists.count == 1 ? lists[0] : "[" + lists.joined(separator: ",") + "]"
    }
}

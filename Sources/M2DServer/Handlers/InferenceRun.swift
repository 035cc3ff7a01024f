// InferenceRun: the part the three inference handlers share: parse the request form, check the
// model option, embed through the service, record the metrics, and hand the clips to the handler.
import Dispatch
import M2DModel

struct InferenceRun {
    let app: ServerApp
    /// "inputs" on native routes, "input" on /v1/embeddings.
    let jsonKey: String

    typealias Finish = @Sendable ([EmbeddedClip], RequestOptions, ModelConfig) throws(ServerError) -> HTTPResponse

    /// `check` runs on the parsed options before any audio is decoded.
    func run(
        _ request: AdmittedRequest,
        keepFrames: @escaping @Sendable (RequestOptions) -> Bool = { $0.granularity == .frames },
        check: (RequestOptions, ModelConfig) throws(ServerError) -> Void = { _, _ in },
        reply: @escaping @Sendable (Reply) -> Void, finish: @escaping Finish
    ) {
        let route = request.route
        guard let service = app.registry.service, let ticket = request.ticket else {
            return reply(.error(.unavailable(status: "loading", reason: app.state.reason), route: route))
        }
        let inputs: [AudioInput], options: RequestOptions
        do {
            (inputs, options) = try InputParser.parse(
                request.http, jsonInputKey: jsonKey, maxItems: app.config.maxClientBatchSize)
            try check(options, service.model)
        } catch {
            if let reason = error.rejectionReason { app.metrics.rejected(reason) }
            return reply(.error(error, route: route))
        }
        // The completion keeps only what it reads: holding `request` would hold the body until the answer.
        let metrics = app.metrics, model = service.model, receivedNanos = request.http.receivedNanos
        service.embed(inputs, keepFrames: keepFrames(options), ticket: ticket, upload: request.http.uploadReservation) {
            result, timings in
            switch result {
            case let .failure(error):
                if let reason = error.rejectionReason { metrics.rejected(reason) }
                reply(Reply(ErrorBody.response(error, openAI: route.isOpenAI), timings: timings))
            case let .success(items):
                let seconds = items.reduce(0) { $0 + $1.facts.durationSeconds }
                for item in items { metrics.audioInputSeconds.record(item.facts.durationSeconds) }
                metrics.audioSecondsTotal.increment(by: seconds)
                metrics.queueDuration.record(Double(timings.queueNanos) / 1e9)
                let format = items.first.map {
                    String($0.facts.format.split(separator: "/").first ?? "unknown").lowercased()
                }
                metrics.decode(format: format ?? "unknown", seconds: Double(timings.decodeNanos) / 1e9)
                do throws(ServerError) {
                    var response = try finish(items, options, model)
                    response.headers += Self.timingHeaders(timings, seconds: seconds, total: receivedNanos)
                    reply(Reply(response, audioSeconds: seconds, timings: timings))
                } catch {
                    reply(
                        Reply(
                            ErrorBody.response(error, openAI: route.isOpenAI), audioSeconds: seconds, timings: timings))
                }
            }
        }
    }

    /// The model option of native routes must name the served model.
    static func requireModel(_ options: RequestOptions, _ model: ModelConfig) throws(ServerError) {
        if let m = options.model, m != model.name {
            throw .validation("model '\(m)' is not served; this server serves '\(model.name)'", param: "model")
        }
    }

    /// projection=clap is an /embed option; elsewhere it would be silently ignored.
    static func requireNoProjection(_ options: RequestOptions) throws(ServerError) {
        if options.projection != .none {
            throw .validation("projection applies to /embed only", param: "projection")
        }
    }

    static func timingHeaders(_ t: ServiceTimings, seconds: Double, total start: UInt64) -> [(String, String)] {
        func ms(_ nanos: UInt64) -> String { String(format: "%.1f", Double(nanos) / 1e6) }
        return [
            ("x-total-time", ms(DispatchTime.now().uptimeNanoseconds &- start)), ("x-decode-time", ms(t.decodeNanos)),
            ("x-queue-time", ms(t.queueNanos)), ("x-inference-time", ms(t.inferenceNanos)),
            ("x-audio-seconds", String(format: "%.3f", seconds)),
        ]
    }
}

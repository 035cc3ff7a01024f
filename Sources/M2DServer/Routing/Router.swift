// Router: the HTTPHandler of a port. At the head it matches the route once and runs the one gate
// (method, port, key, readiness, admission); then it hands the admitted request to its route
// family's handler, and it writes every request's log line and metrics. The admin port's router
// serves the operational routes only.
import Foundation
import Logging

final class Router: HTTPHandler {
    let app: ServerApp
    let adminPort: Bool
    private let handlers: [Route.Family: any RouteHandler]

    init(app: ServerApp, adminPort: Bool) {
        self.app = app
        self.adminPort = adminPort
        handlers = [
            .embed: EmbedHandler(app: app), .text: TextHandler(app: app), .classify: ClassifyHandler(app: app),
            .openAI: OpenAIHandler(app: app),
            .info: InfoHandler(app: app), .operations: OperationsHandler(app: app), .docs: DocsHandler(),
        ]
    }

    /// Body limit for routes that take no body.
    static let smallBody = 64 * 1024

    func accept(_ head: RequestHead) -> HeadDecision {
        let id = head.requestID ?? UUID().uuidString.lowercased()
        let route = Route.match(head.path)
        func reject(_ error: ServerError) -> HeadDecision {
            let context = RequestContext(route: route, requestID: id)
            if let reason = error.rejectionReason { app.metrics.rejected(reason) }
            return .reject(finish(head, context, Reply.error(error, route: route ?? .embed)), context: context)
        }
        guard let route, !adminPort || route.isOperational else {
            let hint =
                adminPort ? "; this is the admin port (/health/*, /metrics, /openapi.yaml)" : "; see /openapi.yaml"
            return reject(.notFound("no route \(head.path)\(hint)"))
        }
        guard route.methods.contains(head.method) else { return reject(.methodNotAllowed(allowed: route.methods)) }
        if route.needsKey, let key = app.config.apiKey, !Self.authorized(head.headers["authorization"], key: key) {
            return reject(.unauthorized)
        }
        guard route.isInference else {
            return .accept(bodyLimit: Self.smallBody, context: RequestContext(route: route, requestID: id))
        }
        let readiness = app.readiness
        guard readiness.isReady else { return reject(.unavailable(status: readiness.status, reason: readiness.reason)) }
        guard app.state.admit() else {
            return reject(
                .overloaded(
                    "too many concurrent requests (--max-concurrent-requests \(app.state.maxInflight)); "
                        + "retry shortly", retryAfter: 1))
        }
        let ticket = RequestTicket { [state = app.state] in state.release() }
        return .accept(
            bodyLimit: app.config.payloadLimit, context: RequestContext(route: route, requestID: id, ticket: ticket))
    }

    func bodyRejected(_ head: RequestHead, context: (any Sendable & AnyObject)?, reason: BodyRejection) -> HTTPResponse
    {
        let context =
            context as? RequestContext ?? RequestContext(route: nil, requestID: UUID().uuidString.lowercased())
        let error: ServerError
        switch reason {
        case let .tooLarge(limit):
            let hint =
                head.mediaType == "application/json"
                ? "; base64 in JSON adds 33%, multipart or a raw body does not" : ""
            error = .payloadTooLarge("request body exceeds \(limit) bytes (--payload-limit)\(hint)")
        case let .malformed(message): error = .invalidRequest(message)
        case let .uploadBudget(limit): error = .uploadBudgetSpent(limit: limit)
        case let .addressShare(limit):
            error = .overloaded(
                "this address holds \(limit) idle or slow connections, its share (--max-connections-per-ip); "
                    + "send on one of them or close it, then retry", retryAfter: 1)
        }
        if let reason = error.rejectionReason { app.metrics.rejected(reason) }
        return finish(head, context, Reply.error(error, route: context.route ?? .embed))
    }

    func handle(
        _ request: HTTPRequest, connection: any ClientConnection, respond: @escaping @Sendable (HTTPResponse) -> Void
    ) {
        guard let context = request.context as? RequestContext, let route = context.route,
            let handler = handlers[route.family]
        else {
            return respond(ErrorBody.response(.notFound("no route \(request.head.path)")))
        }
        let head = request.head, bytes = request.bodyBytes
        let reply: @Sendable (Reply) -> Void = { [self] r in
            guard context.answered.first() else { return }
            respond(finish(head, context, r, bytes: bytes))
        }
        if let ticket = context.ticket {
            connection.onDisconnect {
                ticket.cancel(); reply(.error(.clientGone, route: route))
            }
        }
        handler.respond(to: AdmittedRequest(route: route, http: request, ticket: context.ticket), reply: reply)
    }

    func interrupted(_ head: RequestHead, context: (any Sendable & AnyObject)?) -> HTTPResponse {
        let context =
            context as? RequestContext ?? RequestContext(route: nil, requestID: UUID().uuidString.lowercased())
        context.ticket?.cancel()
        let error = ServerError.unavailable(
            status: "draining",
            reason: "the request did not finish within --shutdown-timeout "
                + "(\(String(format: "%g", app.config.shutdownTimeout)) s)")
        let reply = Reply.error(error, route: context.route ?? .embed)
        return context.answered.first() ? finish(head, context, reply) : reply.response
    }

    func requestEnded(_ head: RequestHead, context: (any Sendable & AnyObject)?, completed: Bool) {
        (context as? RequestContext)?.ticket?.release()
    }

    /// Stamps the request id, drops HEAD bodies, and writes the log line and metrics.
    private func finish(_ head: RequestHead, _ context: RequestContext, _ reply: Reply, bytes: Int = 0) -> HTTPResponse
    {
        var response = reply.response
        if head.method == "HEAD" { response.body = .bytes([]) }
        response.headers.append(("x-request-id", context.requestID))
        if app.state.phase == .draining { response.headers.append(("Connection", "close")) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds &- context.startNanos) / 1e9
        app.metrics.request(route: context.routeLabel, status: response.status, seconds: seconds, bytes: bytes)
        var meta: Logger.Metadata = [
            "id": .string(context.requestID), "method": .string(head.method), "route": .string(context.routeLabel),
            "status": .stringConvertible(response.status), "ms": .string(String(format: "%.1f", seconds * 1000)),
            "peer": .string(head.peer),
        ]
        if reply.audioSeconds > 0 { meta["audio_s"] = .string(String(format: "%.2f", reply.audioSeconds)) }
        if let t = reply.timings {
            meta["queue_ms"] = .string(String(format: "%.1f", Double(t.queueNanos) / 1e6))
            meta["inference_ms"] = .string(String(format: "%.1f", Double(t.inferenceNanos) / 1e6))
        }
        if context.route?.isOperational == true {
            app.logger.debug("request", metadata: meta)
        } else {
            app.logger.info("request", metadata: meta)
        }
        return response
    }

    /// Constant-time comparison of the bearer token with the key.
    static func authorized(_ header: String?, key: String) -> Bool {
        guard let header, header.lowercased().hasPrefix("bearer ") else { return false }
        let given = Array(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8), expected = Array(key.utf8)
        var diff = UInt8(given.count == expected.count ? 0 : 1)
        for i in 0..<max(given.count, expected.count) {
            diff |= (i < given.count ? given[i] : 0) ^ (i < expected.count ? expected[i] : 0)
        }
        return diff == 0
    }
}

/// True the first time only.
final class Once: @unchecked Sendable {
    // SAFETY: `done` is guarded by `lock`.
    private let lock = NSLock()
    private var done = false
    func first() -> Bool {
        lock.withLock {
            defer { done = true }; return !done
        }
    }
}

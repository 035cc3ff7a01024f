// OperationsHandler: the routes an orchestrator uses, on both ports: liveness, readiness,
// Prometheus metrics and the OpenAPI document.

struct OperationsHandler: RouteHandler {
    let app: ServerApp

    func respond(to request: AdmittedRequest, reply: @escaping @Sendable (Reply) -> Void) {
        switch request.route {
        case .live:
            reply(Reply(.json(200, JSONResponse.bytes(HealthyBody()))))
        case .metrics:
            let body = app.metrics.scrape(app.metricsSnapshot())
            reply(
                Reply(
                    HTTPResponse(
                        status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: body
                    )))
        case .openapi:
            reply(
                Reply(
                    HTTPResponse(
                        status: 200, headers: [("Content-Type", "application/yaml")], body: OpenAPIDocument.bytes)))
        default: reply(Reply(Self.readiness(app.readiness)))
        }
    }

    static func readiness(_ r: Readiness) -> HTTPResponse {
        if r.isReady {
            return .json(200, JSONResponse.bytes(HealthyBody()))
        }
        return .json(
            503, JSONResponse.bytes(UnhealthyBody(status: r.status, error: r.reason)),
            headers: [("Retry-After", "5")])
    }
}

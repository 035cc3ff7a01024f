// RouteHandler: one type per route family. It gets a request that the router has already matched,
// authorised and admitted, and answers it once through `reply`.

/// A request past the router's gate.
public struct AdmittedRequest: Sendable {
    public let route: Route
    public let http: HTTPRequest
    /// Inference routes only: the admission slot, budget and cancellation of this request.
    public let ticket: RequestTicket?
}

public struct Reply: Sendable {
    public var response: HTTPResponse
    public var audioSeconds: Double = 0
    public var timings: ServiceTimings?

    public init(_ response: HTTPResponse, audioSeconds: Double = 0, timings: ServiceTimings? = nil) {
        self.response = response
        self.audioSeconds = audioSeconds
        self.timings = timings
    }

    public static func error(_ error: ServerError, route: Route) -> Reply {
        Reply(ErrorBody.response(error, openAI: route.isOpenAI))
    }
}

public protocol RouteHandler: Sendable {
    func respond(to request: AdmittedRequest, reply: @escaping @Sendable (Reply) -> Void)
}

// HTTPHandler: what the daemon calls. The daemon owns sockets, bodies and deadlines; the handler
// owns meaning (routes, limits, answers). Every call but `handle` runs on a daemon thread and
// must not block.

/// The handler's verdict on a request head.
public enum HeadDecision: Sendable {
    /// Read a body of at most `bodyLimit` bytes, then call `handle`. `context` travels with the request.
    case accept(bodyLimit: Int, context: (any Sendable & AnyObject)?)
    /// Answer without using the body. The daemon reads and discards the body first (up to its
    /// discard limit), so that clients that send the whole body before reading see the answer.
    case reject(HTTPResponse, context: (any Sendable & AnyObject)?)
}

/// Why a body was refused while it streamed in.
public enum BodyRejection: Sendable, Equatable {
    case tooLarge(limit: Int)
    case malformed(String)
    /// The server's in-flight upload budget is spent.
    case uploadBudget(limit: Int)
    /// The client's address already holds its share of idle or slow connections.
    case addressShare(limit: Int)
}

/// A suspended request's link to its socket.
public protocol ClientConnection: Sendable {
    /// `action` runs once if the client disconnects before the response is sent (on a daemon thread).
    func onDisconnect(_ action: @escaping @Sendable () -> Void)
}

public protocol HTTPHandler: Sendable {
    func accept(_ head: RequestHead) -> HeadDecision
    func bodyRejected(_ head: RequestHead, context: (any Sendable & AnyObject)?, reason: BodyRejection) -> HTTPResponse
    /// The complete request, off the daemon threads. Call `respond` exactly once (later calls are ignored).
    func handle(
        _ request: HTTPRequest, connection: any ClientConnection,
        respond: @escaping @Sendable (HTTPResponse) -> Void)
    /// The daemon is stopping and this request is still waiting: stop its work and give the answer
    /// to send instead (the handler's own answer, if it comes later, is dropped).
    func interrupted(_ head: RequestHead, context: (any Sendable & AnyObject)?) -> HTTPResponse
    /// The request is over: its response was sent, or its connection was lost.
    func requestEnded(_ head: RequestHead, context: (any Sendable & AnyObject)?, completed: Bool)
}

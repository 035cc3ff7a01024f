// RequestContext: what the router attaches to a request at its head and reads back later: the
// route it matched (once), the request id, when it started, and the inference ticket.
import Foundation

final class RequestContext: Sendable {
    let route: Route?
    let requestID: String
    let startNanos: UInt64
    let ticket: RequestTicket?
    /// The first answer wins: the handler's, a disconnect's or the shutdown's.
    let answered = Once()

    init(route: Route?, requestID: String, ticket: RequestTicket? = nil) {
        self.route = route
        self.requestID = requestID
        self.ticket = ticket
        startNanos = DispatchTime.now().uptimeNanoseconds
    }

    var routeLabel: String { route?.rawValue ?? "unknown" }
}

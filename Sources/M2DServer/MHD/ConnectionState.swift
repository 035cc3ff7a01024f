// The daemon's bookkeeping types: one Socket per client connection (MHD's socket context), one
// Request per HTTP request on it (MHD's per-request pointer), and the Link a handler uses to learn
// that its client left. Shared fields are guarded by the daemon's lock; nothing here calls MHD.
import Dispatch
import Foundation

extension MHDDaemon {
    enum Phase { case waiting, receiving, discarding, processing, responding }

    /// One client connection (MHD's socket context), from accept to close.
    final class Socket {
        let connection: OpaquePointer
        let fd: Int32
        let peer: String
        // Guarded by the daemon's lock:
        var phase = Phase.waiting
        var since = DispatchTime.now().uptimeNanoseconds
        var received = 0
        var request: Request?
        var shutDown = false

        init(connection: OpaquePointer, fd: Int32, peer: String) {
            self.connection = connection
            self.fd = fd
            self.peer = peer
        }
    }

    /// What to send once the body has been read to its end.
    enum Pending {
        case none
        case answer(HTTPResponse)
        case rejection(BodyRejection)
    }

    /// One request (MHD's con_cls), from head to completion.
    final class Request {
        let head: RequestHead
        let socket: Socket
        let context: (any Sendable & AnyObject)?
        let limit: Int
        let receivedNanos = DispatchTime.now().uptimeNanoseconds
        var body: [UInt8] = []
        var parts: [FormPart] = []
        var received = 0
        var postProcessor: OpaquePointer?
        var reservation: Budget.Reservation?
        var pending = Pending.none
        /// The answer ends the connection (an address over its share).
        var closeAfterAnswer = false
        var dispatched = false
        // Guarded by the daemon's lock:
        var response: HTTPResponse?
        var suspended = false
        var disconnected = false
        var disconnectActions: [@Sendable () -> Void] = []

        init(head: RequestHead, socket: Socket, context: (any Sendable & AnyObject)?, limit: Int) {
            self.head = head
            self.socket = socket
            self.context = context
            self.limit = limit
        }

        var discarding: Bool { if case .none = pending { return false }; return true }
    }

    /// A suspended request's handle for the handler. SAFETY: the request is kept alive by it and
    /// its shared fields are touched under the daemon's lock.
    struct Link: ClientConnection, @unchecked Sendable {
        let daemon: MHDDaemon
        let request: Request

        func onDisconnect(_ action: @escaping @Sendable () -> Void) {
            let gone = daemon.lock.withLock { () -> Bool in
                if request.disconnected { return true }
                request.disconnectActions.append(action)
                return false
            }
            if gone { action() }
        }
    }
}

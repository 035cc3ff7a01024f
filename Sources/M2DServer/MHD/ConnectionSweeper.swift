// The daemon's sweeper: what libmicrohttpd does not enforce. Every 200 ms it closes connections
// whose request head is late (or that sit idle while draining), cuts bodies that fall below the
// minimum rate after their grace, and notices suspended requests whose client went away (MHD does
// not poll suspended connections). Sockets are shut down, never closed: the descriptor stays MHD's.
import Dispatch
import Foundation

extension MHDDaemon {
    func wakeSweeper() { sweeperWake.withLock { sweeperWake.broadcast() } }

    func sweepUntilStopped() {
        while true {
            let stop = sweeperWake.withLock { () -> Bool in
                if !sweeperStop { _ = sweeperWake.wait(until: Date(timeIntervalSinceNow: 0.2)) }
                return sweeperStop
            }
            if stop { return }
            sweep()
        }
    }

    func sweep() {
        let now = DispatchTime.now().uptimeNanoseconds
        var actions: [@Sendable () -> Void] = [], events: [String] = []
        lock.withLock {
            for socket in sockets.values where !socket.shutDown {
                let elapsed = Double(now &- socket.since) / 1e9
                switch socket.phase {
                case .waiting:
                    if draining || elapsed > options.connections.headerTimeout {
                        shutDown(socket, counting: draining ? "drain" : "header_timeout")
                    }
                case .receiving, .discarding:
                    let allowed = options.connections.minReceiveRate * (elapsed - options.connections.receiveGrace)
                    if allowed > 0, Double(socket.received) < allowed {
                        shutDown(socket, counting: "slow_body")
                    }
                case .processing:
                    guard let request = socket.request, request.suspended, !request.disconnected,
                        Self.peerClosed(socket.fd)
                    else { break }
                    request.disconnected = true
                    actions += request.disconnectActions
                    request.disconnectActions = []
                    events.append("client_gone")
                case .responding:
                    break
                }
            }
            if !draining { enforceAddressShares(now: now) }
        }
        for action in actions { action() }
        if let onConnectionEvent { for event in events { onConnectionEvent(event) } }
    }

    /// Under `lock`. MHD sees end of stream and closes the connection itself; the descriptor stays MHD's.
    /// The event is counted first, so a client that sees the close and then reads /metrics finds it.
    func shutDown(_ socket: Socket, counting event: String) {
        onConnectionEvent?(event)
        socket.shutDown = true
        Glibc.shutdown(socket.fd, Int32(SHUT_RDWR))
    }

    /// The peer sent FIN or the socket failed (data waiting to be read, a pipelined request, is not a close).
    static func peerClosed(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: pollReadHangUp, revents: 0)
        guard poll(&p, 1, 0) > 0 else { return false }
        return p.revents & (pollReadHangUp | Int16(POLLHUP | POLLERR | POLLNVAL)) != 0
    }

    /// POLLRDHUP: Linux has it, Glibc's module hides it (it needs _GNU_SOURCE in C).
    static let pollReadHangUp: Int16 = 0x2000
}

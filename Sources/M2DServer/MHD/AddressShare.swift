// AddressShare: how many connections one client address may leave idle or slow (ConnectionPolicy
// .perAddressLimit). Only those count: a connection whose request is moving at the minimum rate, being
// processed or answered is working, so a burst from one address is served whole. The share stops one
// address from holding the table with connections that do nothing: past it, the sweeper closes the
// address's longest-idle ones, and a request that arrives on yet another connection is answered 429
// (Retry-After, Connection: close), never dropped unanswered.
import Dispatch

extension MHDDaemon {
    /// Under `lock`: whether `socket` is idle (waiting for a request head past the grace) or slow (its
    /// body behind the minimum rate, counted from its head, past the grace).
    func isIdleOrSlow(_ socket: Socket, now: UInt64) -> Bool {
        guard !socket.shutDown else { return false }
        let policy = options.connections
        let elapsed = Double(now &- socket.since) / 1e9
        guard elapsed > policy.idleGrace else { return false }
        switch socket.phase {
        case .waiting: return true
        case .receiving, .discarding: return Double(socket.received) < policy.minReceiveRate * elapsed
        case .processing, .responding: return false
        }
    }

    /// Under `lock`: whether `socket`'s address already holds its share of idle or slow connections,
    /// not counting `socket` itself.
    func addressIsOverShare(_ socket: Socket) -> Bool {
        let limit = options.connections.perAddressLimit
        guard limit > 0 else { return false }
        let now = DispatchTime.now().uptimeNanoseconds
        var held = 0
        for other in sockets.values where other !== socket && other.peer == socket.peer && isIdleOrSlow(other, now: now)
        {
            held += 1
            if held >= limit { return true }
        }
        return false
    }

    /// Under `lock`, from the sweeper: each address's idle or slow connections beyond its share are
    /// closed, the longest idle first (none of them has a request waiting for an answer it could get).
    func enforceAddressShares(now: UInt64) {
        let limit = options.connections.perAddressLimit
        guard limit > 0 else { return }
        var byAddress: [String: [Socket]] = [:]
        for socket in sockets.values where isIdleOrSlow(socket, now: now) {
            byAddress[socket.peer, default: []].append(socket)
        }
        for (_, held) in byAddress where held.count > limit {
            for socket in held.sorted(by: { $0.since < $1.since }).prefix(held.count - limit) {
                shutDown(socket, counting: "per_address")
            }
        }
    }
}

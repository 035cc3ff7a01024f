// ConnectionPolicy: how the daemon treats each connection (table size, per-address share,
// deadlines, the slowest body it waits for); MHDDaemon.Options: a daemon's address, policy and
// budget. ServerConfig holds the policy users set; the daemon reads it, never changes it.

/// The connection settings of docs/HTTP-API.md §7, with their defaults.
public struct ConnectionPolicy: Sendable {
    /// Open connections at most.
    public var limit = 256
    /// Idle or slow connections one client address may hold (0: no limit). Connections whose request
    /// moves at a normal rate, or is being processed or answered, do not count: a burst from one
    /// address (or from many clients behind one NAT or proxy) is served whole.
    public var perAddressLimit = 32
    /// Seconds a new or finished connection may wait for its next request head, and a body may lag,
    /// before the connection counts as idle or slow against its address.
    public var idleGrace = 1.0
    /// Seconds without any progress before a connection is closed.
    public var idleTimeout = 30
    /// Seconds for a request head to arrive, from connect or from the previous response (so an
    /// idle keep-alive connection is closed after it, too).
    public var headerTimeout = 10.0
    /// Bytes per second a body must keep up once `receiveGrace` seconds have passed.
    public var minReceiveRate = 4096.0
    public var receiveGrace = 5.0

    public init() {}
}

extension MHDDaemon {
    public struct Options: Sendable {
        public var host = "0.0.0.0"
        public var port = 8080
        public var connections = ConnectionPolicy()
        /// Body bytes read and dropped after an early answer before the connection is cut instead.
        public var discardLimit = 64 << 20
        /// Polling threads (MHD's thread pool when above 1).
        public var threads = 1
        /// In-flight upload bytes across connections (nil: unbounded).
        public var uploadBudget: Budget?
        public init() {}
    }
}

// MHDDaemon.Options: how the daemon treats connections (limits, deadlines, the upload budget).
// Filled from ServerConfig by ServerRunner; the daemon reads it, never changes it.

extension MHDDaemon {
    public struct Options: Sendable {
        public var host = "0.0.0.0"
        public var port = 8080
        public var connectionLimit = 256
        /// Connections one client address may hold (0: no limit).
        public var perAddressLimit = 32
        /// Seconds without any progress before MHD closes a connection.
        public var idleTimeoutSeconds = 30
        /// A request head must be complete this long after the connection opened or the previous
        /// response was sent (so an idle keep-alive connection is closed after it, too).
        public var headerTimeoutSeconds = 10.0
        /// Bodies must arrive at least this fast once `receiveGraceSeconds` have passed.
        public var minReceiveBytesPerSecond = 4096.0
        public var receiveGraceSeconds = 5.0
        /// Body bytes read and dropped after an early answer before the connection is cut instead.
        public var discardLimit = 64 << 20
        /// Polling threads (MHD's thread pool when above 1).
        public var threads = 1
        /// In-flight upload bytes across connections (nil: unbounded).
        public var uploadBudget: Budget?
        public init() {}
    }
}

// The listening socket the daemon is started on: bound and listening before MHD starts, so port 0
// is resolved and the bound port can be logged and returned.
import Foundation

public enum DaemonError: Error, CustomStringConvertible {
    case bindFailed(host: String, port: Int, reason: String)
    case startFailed

    public var description: String {
        switch self {
        case let .bindFailed(host, port, reason): "cannot listen on \(host):\(port): \(reason)"
        case .startFailed: "libmicrohttpd failed to start"
        }
    }
}

extension MHDDaemon {
    /// Creates, binds and listens on a TCP socket for host:port; returns (fd, bound port, isIPv6).
    static func listen(host: String, port: Int) throws -> (Int32, Int, Bool) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw DaemonError.bindFailed(host: host, port: port, reason: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(list) }
        var lastError = "no usable address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            defer { ai = a.pointee.ai_next }
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd < 0 { lastError = String(cString: strerror(errno)); continue }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard bind(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0, Glibc.listen(fd, 511) == 0 else {
                lastError = String(cString: strerror(errno)); close(fd); continue
            }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            let ipv6 = Int32(storage.ss_family) == AF_INET6
            let bound: UInt16 = withUnsafePointer(to: &storage) { p in
                ipv6
                    ? p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        UInt16(bigEndian: $0.pointee.sin6_port)
                    }
                    : p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            }
            return (fd, Int(bound), ipv6)
        }
        throw DaemonError.bindFailed(host: host, port: port, reason: lastError)
    }
}

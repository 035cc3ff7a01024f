// MHDDaemon: the only Swift file that speaks libmicrohttpd (MHD_). It owns the daemon, turns MHD's
// repeated access-handler calls into one HTTPRequest, suspends the connection while the handler
// works off the daemon thread, and resumes it with the response. Pattern: swift-nio's llhttp
// wrapper (non-capturing C callbacks recover `self` through one fromOpaque helper).
import CMicroHTTPD
import Dispatch
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

public final class MHDDaemon: @unchecked Sendable {
    // SAFETY: `daemon`/`listenFD` change only in start/stop (called by the owner); per-connection
    // state is touched by MHD's polling thread, except `response`, which is guarded by its lock.
    public struct Options: Sendable {
        public var host = "0.0.0.0"
        public var port = 8080
        public var connectionTimeoutSeconds = 30
        public var connectionLimit = 256
        public init() {}
    }

    let handler: any HTTPHandler
    let options: Options
    private var daemon: OpaquePointer?
    private var listenFD: Int32 = -1
    public private(set) var boundPort = 0

    public init(handler: any HTTPHandler, options: Options) {
        self.handler = handler
        self.options = options
    }

    /// Binds and starts serving. Returns the bound port (useful with port 0).
    @discardableResult
    public func start() throws -> Int {
        let (fd, port, ipv6) = try Self.listen(host: options.host, port: options.port)
        listenFD = fd
        boundPort = port
        var flags = MHD_USE_AUTO_INTERNAL_THREAD.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_ERROR_LOG.rawValue
        if ipv6 { flags |= MHD_USE_IPv6.rawValue }
        let me = Unmanaged.passRetained(self).toOpaque()
        guard let d = m2d_mhd_start(flags, Self.accessCallback, me, Self.completedCallback, me, fd,
                                    UInt32(options.connectionTimeoutSeconds), UInt32(options.connectionLimit), 256 * 1024)
        else {
            Unmanaged<MHDDaemon>.fromOpaque(me).release()
            close(fd)
            throw DaemonError.startFailed
        }
        daemon = d
        return port
    }

    /// Stops accepting new connections; in-flight ones continue.
    public func quiesce() {
        guard let daemon else { return }
        let fd = MHD_quiesce_daemon(daemon)
        if fd >= 0 { close(fd); listenFD = -1 }
    }

    /// Stops the daemon (closing every connection) and releases the callback context.
    public func stop() {
        guard let d = daemon else { return }
        daemon = nil
        MHD_stop_daemon(d)
        if listenFD >= 0 { close(listenFD); listenFD = -1 }
        Unmanaged.passUnretained(self).release()
    }

    // MARK: per-connection state

    final class Connection {
        let head: RequestHead
        let receivedNanos = DispatchTime.now().uptimeNanoseconds
        let limit: Int
        var body: [UInt8] = []
        var parts: [FormPart] = []
        var received = 0
        var postProcessor: OpaquePointer?
        var dispatched = false
        /// Set once the streamed body passed the limit: the rest is discarded and 413 sent at the end
        /// (MHD accepts a response mid-upload only before the body starts).
        var overLimit = false
        /// Set when the form parser rejected the body; 400 is sent once the upload ends.
        var malformed: String?
        let lock = NSLock()
        var response: HTTPResponse?

        init(head: RequestHead, limit: Int) {
            self.head = head
            self.limit = limit
        }
    }

    private static func fromOpaque<T: AnyObject>(_ pointer: UnsafeMutableRawPointer?) -> T {
        Unmanaged<T>.fromOpaque(pointer!).takeUnretainedValue()
    }

    private static let accessCallback: MHD_AccessHandlerCallback = { cls, connection, url, method, _, upload, uploadSize, state in
        let me: MHDDaemon = fromOpaque(cls)
        return me.access(connection!, url: url.map { String(cString: $0) } ?? "/", method: method.map { String(cString: $0) } ?? "GET",
                         upload: upload, uploadSize: uploadSize!, state: state!)
    }

    private static let completedCallback: MHD_RequestCompletedCallback = { _, _, state, _ in
        guard let state, let raw = state.pointee else { return }
        let conn = Unmanaged<Connection>.fromOpaque(raw).takeRetainedValue()
        if let pp = conn.postProcessor { MHD_destroy_post_processor(pp) }
        state.pointee = nil
    }

    private static let postIterator: MHD_PostDataIterator = { cls, _, key, filename, contentType, _, data, offset, size in
        let conn: Connection = fromOpaque(cls)
        let name = key.map { String(cString: $0) } ?? ""
        if offset == 0 || conn.parts.last?.name != name {
            conn.parts.append(FormPart(name: name, filename: filename.map { String(cString: $0) },
                                       contentType: contentType.map { String(cString: $0) }, data: []))
        }
        if size > 0, let data {
            data.withMemoryRebound(to: UInt8.self, capacity: size) { conn.parts[conn.parts.count - 1].data.append(contentsOf: UnsafeBufferPointer(start: $0, count: size)) }
        }
        return .YES
    }

    private func access(_ connection: OpaquePointer, url: String, method: String, upload: UnsafePointer<CChar>?,
                        uploadSize: UnsafeMutablePointer<Int>, state: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> MHD_Result {
        guard let raw = state.pointee else {
            // First call: only the head is known.
            let head = RequestHead(method: method, path: url, query: Self.values(connection, .GET_ARGUMENT_KIND),
                                   headers: Self.values(connection, .HEADER_KIND, lowercase: true))
            if let early = handler.preflight(head) { return Self.queue(connection, early) }
            let limit = handler.maxBodyBytes(for: head)
            if let length = head.headers["content-length"].flatMap(Int.init), length > limit {
                return Self.queue(connection, handler.bodyTooLarge(head, limit: limit))
            }
            let conn = Connection(head: head, limit: limit)
            let opaque = Unmanaged.passRetained(conn).toOpaque()
            if head.isForm {
                conn.postProcessor = MHD_create_post_processor(connection, 64 * 1024, Self.postIterator, opaque)
                if conn.postProcessor == nil {
                    Unmanaged<Connection>.fromOpaque(opaque).release()
                    return Self.queue(connection, handler.malformedBody(head, reason: "malformed form body (multipart without a boundary?)"))
                }
            }
            state.pointee = opaque
            return .YES
        }
        let conn: Connection = Self.fromOpaque(raw)
        if uploadSize.pointee > 0 {
            let size = uploadSize.pointee
            uploadSize.pointee = 0
            conn.received += size
            if conn.received > conn.limit {
                conn.overLimit = true
                conn.body = []
                conn.parts = []
                // Far beyond the limit: stop reading and drop the connection.
                return conn.received > conn.limit &+ 64 << 20 ? .NO : .YES
            }
            if conn.malformed != nil { return .YES }
            if let pp = conn.postProcessor {
                if MHD_post_process(pp, upload, size) != .YES {
                    conn.malformed = "malformed form body"
                    conn.parts = []
                }
            } else if let upload {
                upload.withMemoryRebound(to: UInt8.self, capacity: size) { conn.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: size)) }
            }
            return .YES
        }
        // Body complete (or resumed with the answer).
        conn.lock.lock()
        let ready = conn.response
        conn.lock.unlock()
        if let ready { return Self.queue(connection, ready) }
        if conn.overLimit { return Self.queue(connection, handler.bodyTooLarge(conn.head, limit: conn.limit)) }
        if let reason = conn.malformed { return Self.queue(connection, handler.malformedBody(conn.head, reason: reason)) }
        if conn.dispatched { return .YES }
        conn.dispatched = true
        let request = HTTPRequest(head: conn.head, body: conn.body, parts: conn.parts, receivedNanos: conn.receivedNanos)
        conn.body = []
        conn.parts = []
        MHD_suspend_connection(connection)
        let handler = self.handler
        let box = ConnectionHandle(connection: connection, conn: conn)
        DispatchQueue.global().async {
            handler.handle(request) { response in
                box.conn.lock.lock()
                let first = box.conn.response == nil
                if first { box.conn.response = response }
                box.conn.lock.unlock()
                if first { MHD_resume_connection(box.connection) }
            }
        }
        return .YES
    }

    /// Carries a suspended connection to the thread that resumes it. SAFETY: MHD permits
    /// MHD_resume_connection from any thread; the connection stays alive while suspended.
    private struct ConnectionHandle: @unchecked Sendable {
        let connection: OpaquePointer
        let conn: Connection
    }

    private static func queue(_ connection: OpaquePointer, _ response: HTTPResponse) -> MHD_Result {
        let r = response.body.withUnsafeBytes { raw in
            MHD_create_response_from_buffer(raw.count, UnsafeMutableRawPointer(mutating: raw.baseAddress), .RESPMEM_MUST_COPY)
        }
        guard let r else { return .NO }
        for (name, value) in response.headers { MHD_add_response_header(r, name, value) }
        let result = MHD_queue_response(connection, UInt32(response.status), r)
        MHD_destroy_response(r)
        return result
    }

    private final class ValueBox {
        var values: [String: String] = [:]
        let lowercase: Bool
        init(lowercase: Bool) { self.lowercase = lowercase }
    }

    private static func values(_ connection: OpaquePointer, _ kind: MHD_ValueKind, lowercase: Bool = false) -> [String: String] {
        let box = ValueBox(lowercase: lowercase)
        let opaque = Unmanaged.passUnretained(box).toOpaque()
        _ = MHD_get_connection_values(connection, kind, { cls, _, key, value in
            let box: ValueBox = MHDDaemon.fromOpaque(cls)
            if let key {
                let name = String(cString: key)
                box.values[box.lowercase ? name.lowercased() : name] = value.map { String(cString: $0) } ?? ""
            }
            return .YES
        }, opaque)
        return withExtendedLifetime(box) { box.values }
    }

    /// Creates, binds and listens on a TCP socket for host:port; returns (fd, bound port, isIPv6).
    private static func listen(host: String, port: Int) throws -> (Int32, Int, Bool) {
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
            _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            let ipv6 = Int32(storage.ss_family) == AF_INET6
            let bound: UInt16 = withUnsafePointer(to: &storage) { p in
                ipv6 ? p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
                     : p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            }
            return (fd, Int(bound), ipv6)
        }
        throw DaemonError.bindFailed(host: host, port: port, reason: lastError)
    }
}

// MHDDaemon: the only Swift file that speaks libmicrohttpd (MHD_). It owns the daemon and every
// socket: it turns MHD's repeated access-handler calls into one HTTPRequest within a body limit
// and an upload budget, reads and discards the body of an early answer before sending it (so every
// client sees the status), suspends the connection while the handler works off the daemon threads,
// and resumes it with the response. A sweeper thread enforces what MHD does not: a deadline for the
// request head, a minimum receive rate for bodies, disconnect detection for suspended requests
// (MHD does not poll them), and the closing of idle connections on drain. Pattern: swift-nio's
// llhttp wrapper (non-capturing C callbacks recover `self` through one fromOpaque helper).
import CMicroHTTPD
import Dispatch
import Foundation

public final class MHDDaemon: @unchecked Sendable {
    // SAFETY: `daemon`/`listenFD` change only in start/stop (called by the owner). Socket and request
    // state shared between MHD's thread, the sweeper and responding threads is guarded by `lock`;
    // the rest of a request is touched only by the MHD thread that owns its connection.

    let handler: any HTTPHandler
    let options: Options
    private var daemon: OpaquePointer?
    private var listenFD: Int32 = -1
    public private(set) var boundPort = 0
    /// Called with a reason ("header_timeout", "slow_body", "per_address", "drain", "client_gone") when the daemon
    /// ends a connection or a request on its own.
    public var onConnectionEvent: (@Sendable (String) -> Void)?

    let lock = NSLock()
    var sockets: [ObjectIdentifier: Socket] = [:]
    var draining = false
    private var stopping = false
    private var sweeper: Thread?
    let sweeperWake = NSCondition()
    var sweeperStop = false

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
        var flags =
            MHD_USE_AUTO_INTERNAL_THREAD.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_ERROR_LOG.rawValue
            | MHD_USE_ITC.rawValue
        if ipv6 { flags |= MHD_USE_IPv6.rawValue }
        let me = Unmanaged.passRetained(self).toOpaque()
        guard
            let d = m2d_mhd_start(
                flags, Self.accessCallback, me, Self.completedCallback, me, Self.notifyCallback, me, fd,
                UInt32(options.connections.idleTimeout), UInt32(options.connections.limit), 256 * 1024,
                UInt32(max(1, options.threads)))
        else {
            Unmanaged<MHDDaemon>.fromOpaque(me).release()
            close(fd)
            throw DaemonError.startFailed
        }
        daemon = d
        let sweeper = Thread { [self] in sweepUntilStopped() }
        sweeper.name = "m2d-sweeper"
        sweeper.start()
        self.sweeper = sweeper
        return port
    }

    /// Stops accepting connections and closes idle ones; requests in progress continue, and their
    /// connections close after the response.
    public func beginDrain() {
        lock.withLock { draining = true }
        if let daemon {
            let fd = MHD_quiesce_daemon(daemon)
            if fd >= 0 { close(fd); listenFD = -1 }
        }
        wakeSweeper()
    }

    /// Requests between head and response (reading, processing, or being answered).
    public var activeRequests: Int { lock.withLock { sockets.values.filter { $0.request != nil }.count } }
    /// Requests waiting for the handler's response.
    public var suspendedRequests: Int {
        lock.withLock { sockets.values.filter { $0.request?.suspended == true }.count }
    }

    /// Answers every suspended request now with the handler's `interrupted` answer (their late
    /// results are dropped) and suspends no more: after this, `stop` cannot find a suspended
    /// connection. Returns how many.
    @discardableResult
    public func answerSuspended() -> Int {
        let waiting = lock.withLock { () -> [Request] in
            stopping = true
            return sockets.values.compactMap { $0.request }.filter { $0.suspended }
        }
        for request in waiting {
            resume(request, with: handler.interrupted(request.head, context: request.context))
        }
        return waiting.count
    }

    /// Stops the daemon (closing every connection) and releases the callback context. Suspended
    /// requests are answered first, so MHD never aborts.
    public func stop() {
        guard let d = daemon else { return }
        answerSuspended()
        daemon = nil
        sweeperWake.withLock {
            sweeperStop = true; sweeperWake.broadcast()
        }
        while let s = sweeper, !s.isFinished { usleep(1000) }
        MHD_stop_daemon(d)
        if listenFD >= 0 { close(listenFD); listenFD = -1 }
        Unmanaged.passUnretained(self).release()
    }
    private static func fromOpaque<T: AnyObject>(_ pointer: UnsafeMutableRawPointer?) -> T {
        Unmanaged<T>.fromOpaque(pointer!).takeUnretainedValue()
    }

    // MARK: C callbacks

    private static let notifyCallback: MHD_NotifyConnectionCallback = { cls, connection, socketContext, code in
        guard let connection, let socketContext else { return }
        let me: MHDDaemon = fromOpaque(cls)
        if code == .CONNECTION_NOTIFY_STARTED {
            var address = [CChar](repeating: 0, count: 64)
            m2d_mhd_client_address(connection, &address, address.count)
            let peer = String(decoding: address.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let socket = Socket(connection: connection, fd: m2d_mhd_connection_fd(connection), peer: peer)
            me.lock.withLock { me.sockets[ObjectIdentifier(socket)] = socket }
            socketContext.pointee = Unmanaged.passRetained(socket).toOpaque()
        } else if let raw = socketContext.pointee {
            // MHD closes the descriptor after this returns: the sweeper, which holds the lock while
            // it shuts sockets down, can never reach a reused descriptor.
            let socket = Unmanaged<Socket>.fromOpaque(raw).takeRetainedValue()
            me.lock.withLock { _ = me.sockets.removeValue(forKey: ObjectIdentifier(socket)) }
            socketContext.pointee = nil
        }
    }

    private static let accessCallback: MHD_AccessHandlerCallback = {
        cls, connection, url, method, _, upload, uploadSize, state in
        let me: MHDDaemon = fromOpaque(cls)
        return me.access(
            connection!, url: url.map { String(cString: $0) } ?? "/",
            method: method.map { String(cString: $0) } ?? "GET",
            upload: upload, uploadSize: uploadSize!, state: state!)
    }

    private static let completedCallback: MHD_RequestCompletedCallback = { cls, _, state, code in
        guard let state, let raw = state.pointee else { return }
        let me: MHDDaemon = fromOpaque(cls)
        let request = Unmanaged<Request>.fromOpaque(raw).takeRetainedValue()
        state.pointee = nil
        if let pp = request.postProcessor { MHD_destroy_post_processor(pp) }
        request.reservation = nil
        me.lock.withLock {
            request.socket.request = nil
            request.socket.phase = .waiting
            request.socket.since = DispatchTime.now().uptimeNanoseconds
            // The disconnect actions hold the handler's reply, which holds this request: a cycle
            // that would keep every request, and its answer, alive.
            request.disconnectActions = []
            request.response = nil
        }
        me.handler.requestEnded(
            request.head, context: request.context, completed: code == .REQUEST_TERMINATED_COMPLETED_OK)
    }

    private static let postIterator: MHD_PostDataIterator = {
        cls, _, key, filename, contentType, _, data, offset, size in
        let request: Request = fromOpaque(cls)
        let name = key.map { String(cString: $0) } ?? ""
        // MHD may announce a field at offset 0 before any of its value has arrived (size 0) and again
        // at offset 0 with the value: that is one part, not an empty one followed by another.
        let continuing = request.parts.last.map { $0.name == name && (offset > 0 || $0.data.isEmpty) } ?? false
        if !continuing {
            request.parts.append(
                FormPart(
                    name: name, filename: filename.map { String(cString: $0) },
                    contentType: contentType.map { String(cString: $0) }, data: []))
        }
        if size > 0, let data {
            data.withMemoryRebound(to: UInt8.self, capacity: size) {
                request.parts[request.parts.count - 1].data.append(
                    contentsOf: UnsafeBufferPointer(start: $0, count: size))
            }
        }
        return .YES
    }

    private static let streamReader: MHD_ContentReaderCallback = { cls, _, buffer, max in
        let box: StreamBox = fromOpaque(cls)
        guard let buffer, max > 0 else { return -1 }
        let n = box.stream.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: max))
        return n > 0 ? n : -1  // MHD_CONTENT_READER_END_OF_STREAM
    }

    private static let streamFree: MHD_ContentReaderFreeCallback = { cls in
        guard let cls else { return }
        Unmanaged<StreamBox>.fromOpaque(cls).release()
    }

    private final class StreamBox {
        let stream: any ResponseStream
        init(_ stream: any ResponseStream) { self.stream = stream }
    }

    // MARK: the access handler

    private func access(
        _ connection: OpaquePointer, url: String, method: String, upload: UnsafePointer<CChar>?,
        uploadSize: UnsafeMutablePointer<Int>, state: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    ) -> MHD_Result {
        guard let raw = state.pointee else { return begin(connection, url: url, method: method, state: state) }
        let request: Request = Self.fromOpaque(raw)
        if uploadSize.pointee > 0 {
            let size = uploadSize.pointee
            uploadSize.pointee = 0
            return receive(request, upload: upload, size: size)
        }
        // The body is complete (or the connection was resumed with the answer).
        if let ready = lock.withLock({ request.response }) { return queue(connection, ready) }
        if request.discarding { return answerPending(request, connection) }
        if request.dispatched { return .YES }
        return dispatch(request, connection)
    }

    private func answerPending(_ request: Request, _ connection: OpaquePointer) -> MHD_Result {
        switch request.pending {
        case let .answer(response): return queue(connection, response, close: request.closeAfterAnswer)
        case let .rejection(reason):
            return queue(connection, handler.bodyRejected(request.head, context: request.context, reason: reason))
        case .none: return .NO
        }
    }

    /// The first call of a request: only the head is known.
    private func begin(
        _ connection: OpaquePointer, url: String, method: String,
        state: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    ) -> MHD_Result {
        let socket: Socket = Self.fromOpaque(m2d_mhd_socket_context(connection))
        let head = RequestHead(
            method: method, path: url, query: Self.values(connection, .GET_ARGUMENT_KIND),
            headers: Self.values(connection, .HEADER_KIND, lowercase: true), peer: socket.peer)
        // An address past its share of idle and slow connections is answered (429, then closed) before
        // the handler sees the request, so it takes no admission slot.
        let overShare = lock.withLock { addressIsOverShare(socket) }
        let decision =
            overShare
            ? .reject(
                handler.bodyRejected(
                    head, context: nil, reason: .addressShare(limit: options.connections.perAddressLimit)),
                context: nil)
            : handler.accept(head)
        let request: Request
        switch decision {
        case let .reject(response, context):
            request = Request(head: head, socket: socket, context: context, limit: 0)
            request.pending = .answer(response)
            request.closeAfterAnswer = overShare
        case let .accept(limit, context):
            request = Request(head: head, socket: socket, context: context, limit: limit)
            if let length = head.contentLength, length > limit {
                request.pending = .rejection(.tooLarge(limit: limit))
            } else if let budget = options.uploadBudget, let length = head.contentLength, length > 0 {
                request.reservation = budget.reserve(length)
                if request.reservation == nil { request.pending = .rejection(.uploadBudget(limit: budget.capacity)) }
            }
            if !request.discarding, !head.isForm, let length = head.contentLength {
                request.body.reserveCapacity(length)
            }
        }
        lock.withLock {
            socket.request = request
            socket.phase = request.discarding ? .discarding : .receiving
            socket.since = DispatchTime.now().uptimeNanoseconds
            socket.received = 0
        }
        let opaque = Unmanaged.passRetained(request).toOpaque()
        state.pointee = opaque
        if request.discarding {
            // Answer at once when no body will follow, the client waits for 100-continue, or the body
            // is too large to read through; else read it to the end first (lingering close).
            let noBody = (head.contentLength ?? 0) == 0 && head.headers["transfer-encoding"] == nil
            let expects = head.headers["expect"]?.lowercased() == "100-continue"
            if noBody || expects || (head.contentLength ?? 0) > options.discardLimit {
                return answerPending(request, connection)
            }
            return .YES
        }
        if head.isForm {
            request.postProcessor = MHD_create_post_processor(connection, 64 * 1024, Self.postIterator, opaque)
            if request.postProcessor == nil {
                request.pending = .rejection(.malformed("malformed form body (multipart without a boundary?)"))
            }
        }
        return .YES
    }

    private func receive(_ request: Request, upload: UnsafePointer<CChar>?, size: Int) -> MHD_Result {
        request.received += size
        lock.withLock { request.socket.received += size }
        if request.discarding { return request.received > options.discardLimit ? .NO : .YES }
        if request.received > request.limit {
            enterDiscard(request, .tooLarge(limit: request.limit))
            return .YES
        }
        if let budget = options.uploadBudget, request.head.contentLength == nil {
            // A chunked body reserves as it grows.
            if request.reservation == nil { request.reservation = budget.reserve(0) }
            if request.reservation?.grow(by: size) != true {
                enterDiscard(request, .uploadBudget(limit: budget.capacity))
                return .YES
            }
        }
        if let pp = request.postProcessor {
            if MHD_post_process(pp, upload, size) != .YES { enterDiscard(request, .malformed("malformed form body")) }
        } else if let upload {
            upload.withMemoryRebound(to: UInt8.self, capacity: size) {
                request.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: size))
            }
        }
        return .YES
    }

    private func enterDiscard(_ request: Request, _ reason: BodyRejection) {
        request.pending = .rejection(reason)
        request.body = []
        request.parts = []
        request.reservation = nil
        lock.withLock { request.socket.phase = .discarding }
    }

    private func dispatch(_ request: Request, _ connection: OpaquePointer) -> MHD_Result {
        request.dispatched = true
        let message = HTTPRequest(
            head: request.head, body: request.body, parts: request.parts,
            receivedNanos: request.receivedNanos, context: request.context,
            uploadReservation: request.reservation)
        request.body = []
        request.parts = []
        request.reservation = nil
        let refused = lock.withLock { () -> Bool in
            if stopping { return true }
            request.suspended = true
            request.socket.phase = .processing
            return false
        }
        if refused { return queue(connection, handler.interrupted(request.head, context: request.context)) }
        // Suspend before handing over: a fast answer resumes only a suspended connection.
        MHD_suspend_connection(connection)
        let handler = self.handler, link = Link(daemon: self, request: request)
        DispatchQueue.global().async {
            handler.handle(message, connection: link) { response in link.daemon.resume(link.request, with: response) }
        }
        return .YES
    }

    /// The first response for a suspended request wins; later ones are dropped.
    func resume(_ request: Request, with response: HTTPResponse) {
        let wake = lock.withLock { () -> Bool in
            guard request.response == nil else { return false }
            request.response = response
            guard request.suspended else { return false }
            request.suspended = false
            request.socket.phase = .responding
            return true
        }
        if wake { MHD_resume_connection(request.socket.connection) }
    }

    private func queue(_ connection: OpaquePointer, _ response: HTTPResponse, close: Bool = false) -> MHD_Result {
        let r: OpaquePointer?
        switch response.body {
        case let .bytes(body):
            r = body.withUnsafeBytes { raw in
                MHD_create_response_from_buffer(
                    raw.count, UnsafeMutableRawPointer(mutating: raw.baseAddress), .RESPMEM_MUST_COPY)
            }
        case let .stream(stream):
            let box = Unmanaged.passRetained(StreamBox(stream)).toOpaque()
            r = MHD_create_response_from_callback(UInt64.max, 64 * 1024, Self.streamReader, box, Self.streamFree)
            if r == nil { Unmanaged<StreamBox>.fromOpaque(box).release() }
        }
        guard let r else { return .NO }
        for (name, value) in response.headers { MHD_add_response_header(r, name, value) }
        let closing = lock.withLock { () -> Bool in
            let socket: Socket = Self.fromOpaque(m2d_mhd_socket_context(connection))
            socket.phase = .responding
            return draining
        }
        if closing || close { MHD_add_response_header(r, "Connection", "close") }
        let result = MHD_queue_response(connection, UInt32(response.status), r)
        MHD_destroy_response(r)
        return result
    }
    // MARK: helpers

    private final class ValueBox {
        var values: [String: String] = [:]
        let lowercase: Bool
        init(lowercase: Bool) { self.lowercase = lowercase }
    }

    private static func values(
        _ connection: OpaquePointer, _ kind: MHD_ValueKind, lowercase: Bool = false
    ) -> [String: String] {
        let box = ValueBox(lowercase: lowercase)
        let opaque = Unmanaged.passUnretained(box).toOpaque()
        _ = MHD_get_connection_values(
            connection, kind,
            { cls, _, key, value in
                let box: ValueBox = MHDDaemon.fromOpaque(cls)
                if let key {
                    let name = String(cString: key)
                    box.values[box.lowercase ? name.lowercased() : name] = value.map { String(cString: $0) } ?? ""
                }
                return .YES
            }, opaque)
        return withExtendedLifetime(box) { box.values }
    }
}

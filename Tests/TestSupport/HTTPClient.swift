// A minimal blocking HTTP/1.1 client over a loopback socket: enough to send any request (also
// malformed ones) to a real daemon and read the whole response (Connection: close).
import Foundation

public struct TestResponse: Sendable {
    public let status: Int
    public let headers: [String: String]
    public let body: Data
    public var text: String { String(decoding: body, as: UTF8.self) }
    public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    public var jsonArray: [Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [Any] }
}

public enum HTTPClient {
    public enum Failure: Error { case connect(String), noResponse }

    public static func request(
        port: Int, method: String = "GET", path: String, headers: [String: String] = [:],
        body: [UInt8] = [], timeout: Double = 60, chunked: Bool = false,
        from source: String? = nil
    ) throws -> TestResponse {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        var payload = [UInt8]()
        if chunked {
            head += "Transfer-Encoding: chunked\r\n\r\n"
            var i = 0
            while i < body.count {
                let n = min(16384, body.count - i)
                payload += Array(String(n, radix: 16).utf8) + [13, 10] + body[i..<(i + n)] + [13, 10]
                i += n
            }
            payload += Array("0\r\n\r\n".utf8)
        } else {
            if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
            head += "\r\n"
            payload = body
        }
        return try raw(port: port, bytes: Array(head.utf8) + payload, timeout: timeout, from: source)
    }

    /// A connected TCP socket to 127.0.0.1:`port`, from `source` (another loopback address, e.g.
    /// 127.0.0.2, to look like a second client) when given. The caller closes it.
    public static func connect(port: Int, timeout: Double = 60, from source: String? = nil) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.connect("socket") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            _ = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            close(fd)
            throw Failure.connect(String(cString: strerror(errno)))
        }
        return fd
    }

    /// Sends all of `bytes`; false when the peer closed first.
    @discardableResult
    public static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    /// Reads until the peer closes (or the receive timeout); nil on timeout with nothing read.
    public static func readToEnd(_ fd: Int32) -> [UInt8]? {
        var received = [UInt8](), buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return received }
            if n < 0 { return received.isEmpty && (errno == EAGAIN || errno == EWOULDBLOCK) ? nil : received }
            received += buffer[0..<n]
        }
    }

    /// Sends `bytes` verbatim and parses the response.
    public static func raw(
        port: Int, bytes: [UInt8], timeout: Double = 60, from source: String? = nil
    ) throws -> TestResponse {
        let fd = try connect(port: port, timeout: timeout, from: source)
        defer { close(fd) }
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // the server may answer early (413) and close
            sent += n
        }
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        return try parse(received)
    }

    public static func parse(_ data: [UInt8]) throws -> TestResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, data.count - 3)).first(where: { Array(data[$0..<($0 + 4)]) == separator }) else {
            throw Failure.noResponse
        }
        let lines = String(decoding: data[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        var body = Array(data[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            var out = [UInt8](), i = 0
            while i < body.count,
                let lineEnd = (i..<(body.count - 1)).first(where: { body[$0] == 13 && body[$0 + 1] == 10 })
            {
                let size = Int(String(decoding: body[i..<lineEnd], as: UTF8.self), radix: 16) ?? 0
                if size == 0 { break }
                out += body[(lineEnd + 2)..<min(body.count, lineEnd + 2 + size)]
                i = lineEnd + 2 + size + 2
            }
            body = out
        }
        return TestResponse(status: status, headers: headers, body: Data(body))
    }

    /// A multipart/form-data body: (field name, filename or nil, bytes).
    public static func multipart(
        _ fields: [(String, String?, [UInt8])], boundary: String = "m2dTestBoundary7MA4YWxk"
    ) -> (String, [UInt8]) {
        var body = [UInt8]()
        for (name, filename, bytes) in fields {
            var h = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\""
            if let filename { h += "; filename=\"\(filename)\"\r\nContent-Type: application/octet-stream" }
            h += "\r\n\r\n"
            body += Array(h.utf8) + bytes + [13, 10]
        }
        body += Array("--\(boundary)--\r\n".utf8)
        return ("multipart/form-data; boundary=\(boundary)", body)
    }
}

// Our own HTTP request and response values. Nothing outside MHD/MHDDaemon.swift sees libmicrohttpd.
import Foundation

/// What is known before the body is read.
public struct RequestHead: Sendable {
    public var method: String
    public var path: String
    /// Query arguments (percent-decoded); the last value wins for repeated keys.
    public var query: [String: String]
    /// Header names lowercased.
    public var headers: [String: String]
    /// The client's address ("127.0.0.1").
    public var peer: String

    public init(
        method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:],
        peer: String = ""
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.peer = peer
    }

    public var contentType: String? { headers["content-type"] }
    /// The client's x-request-id, if it sent a usable one (1-200 visible ASCII characters).
    public var requestID: String? {
        guard let id = headers["x-request-id"], (1...200).contains(id.utf8.count),
            id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { return nil }
        return id
    }
    /// The media type without parameters, lowercased ("audio/wav").
    public var mediaType: String? {
        contentType.map {
            $0.split(separator: ";").first.map(String.init)?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        }
    }
    public var isForm: Bool { mediaType == "multipart/form-data" || mediaType == "application/x-www-form-urlencoded" }
    /// The declared body length, when the client sent a valid Content-Length.
    public var contentLength: Int? {
        headers["content-length"].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }
}

/// One field of a multipart/form-data or urlencoded body.
public struct FormPart: Sendable {
    public var name: String
    public var filename: String?
    public var contentType: String?
    public var data: [UInt8]

    public init(name: String, filename: String? = nil, contentType: String? = nil, data: [UInt8]) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
        self.data = data
    }

    public var text: String { String(decoding: data, as: UTF8.self) }
}

public struct HTTPRequest: Sendable {
    public var head: RequestHead
    /// The raw body (empty for form bodies, which arrive as `parts`).
    public var body: [UInt8]
    public var parts: [FormPart]
    /// Monotonic time the request head arrived.
    public var receivedNanos: UInt64
    /// What the handler attached to this request when it accepted the head.
    public var context: (any Sendable & AnyObject)?
    /// The upload budget the body holds; dropping it (with the body) gives the bytes back.
    public var uploadReservation: Budget.Reservation?

    public init(
        head: RequestHead, body: [UInt8] = [], parts: [FormPart] = [],
        receivedNanos: UInt64 = DispatchTime.now().uptimeNanoseconds, context: (any Sendable & AnyObject)? = nil,
        uploadReservation: Budget.Reservation? = nil
    ) {
        self.head = head
        self.body = body
        self.parts = parts
        self.receivedNanos = receivedNanos
        self.context = context
        self.uploadReservation = uploadReservation
    }

    /// Bytes of body carried (raw body plus form parts).
    public var bodyBytes: Int { body.count + parts.reduce(0) { $0 + $1.data.count } }
}

/// A body produced while it is sent (large frame responses): MHD pulls it piece by piece.
public protocol ResponseStream: AnyObject, Sendable {
    /// Writes the next bytes into `buffer` and returns how many; 0 ends the body.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int
}

public struct HTTPResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        case stream(any ResponseStream)
    }

    public var status: Int
    public var headers: [(String, String)]
    public var body: Body

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = .bytes(body)
    }

    public init(status: Int, headers: [(String, String)], stream: any ResponseStream) {
        self.status = status
        self.headers = headers
        body = .stream(stream)
    }

    public static func json(_ status: Int, _ body: [UInt8], headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: body)
    }

    public static func text(
        _ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8"
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// The body as bytes (a stream is read to its end).
    public var bodyBytes: [UInt8] {
        switch body {
        case let .bytes(b): return b
        case let .stream(s):
            var out = [UInt8](), chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { s.read(into: $0) }
                if n == 0 { return out }
                out += chunk[0..<n]
            }
        }
    }
}

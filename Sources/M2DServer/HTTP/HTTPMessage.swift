// Our own HTTP request/response values. Nothing outside MHD/MHDDaemon.swift sees libmicrohttpd.
import Foundation

/// What is known before the body is read.
public struct RequestHead: Sendable {
    public var method: String
    public var path: String
    /// Query arguments (percent-decoded); the last value wins for repeated keys.
    public var query: [String: String]
    /// Header names lowercased.
    public var headers: [String: String]

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:]) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }

    public var contentType: String? { headers["content-type"] }
    /// The client's x-request-id, if it sent a non-empty one.
    public var requestID: String? { headers["x-request-id"].flatMap { $0.isEmpty ? nil : $0 } }
    /// The media type without parameters, lowercased ("audio/wav").
    public var mediaType: String? {
        contentType.map { $0.split(separator: ";")[0].trimmingCharacters(in: .whitespaces).lowercased() }
    }
    public var isForm: Bool { mediaType == "multipart/form-data" || mediaType == "application/x-www-form-urlencoded" }
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

    public init(head: RequestHead, body: [UInt8] = [], parts: [FormPart] = [], receivedNanos: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        self.head = head
        self.body = body
        self.parts = parts
        self.receivedNanos = receivedNanos
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
    }

    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// What the daemon calls. `preflight` runs on the daemon thread before the body is read and may
/// answer at once (404, 405, 401, 413, 415...). `handle` gets the complete request off the daemon
/// thread and must call `respond` exactly once.
public protocol HTTPHandler: Sendable {
    func maxBodyBytes(for head: RequestHead) -> Int
    func preflight(_ head: RequestHead) -> HTTPResponse?
    func handle(_ request: HTTPRequest, respond: @escaping @Sendable (HTTPResponse) -> Void)
    /// The response sent when the body outgrows `maxBodyBytes` while streaming.
    func bodyTooLarge(_ head: RequestHead, limit: Int) -> HTTPResponse
    /// The response sent when a form body cannot be parsed.
    func malformedBody(_ head: RequestHead, reason: String) -> HTTPResponse
}

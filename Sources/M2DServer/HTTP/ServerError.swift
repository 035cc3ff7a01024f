// ServerError: every error a client can see, and the one table that maps each to a status code,
// an error_type and its extra headers (docs/HTTP-API.md §4). Lower layers throw their own typed
// errors; `from(_:)` converts them in one place.
import M2DAudio
import M2DModel

public enum ServerError: Error, Equatable, Sendable {
    case invalidRequest(String)
    case empty(String)
    case invalidAudio(String)
    case unauthorized
    case notFound(String)
    case methodNotAllowed(allowed: [String])
    case payloadTooLarge(String)
    case unsupportedMediaType(String)
    case validation(String, param: String? = nil)
    /// Over an admission limit or a budget; `retryAfter` seconds.
    case overloaded(String, retryAfter: Int)
    case unavailable(status: String, reason: String)
    case backend(String)
    /// The client went away before its answer (logged and counted; nobody reads the body).
    case clientGone

    public static var acceptedMedia: String {
        "multipart/form-data (field 'file'), " + AudioFormat.allCases.flatMap(\.mediaTypes).joined(separator: ", ")
            + ", application/octet-stream, application/json ({\"inputs\": base64 or data URI})"
    }

    /// (status, error_type): the one mapping.
    public var statusAndType: (Int, String) {
        switch self {
        case .invalidRequest: (400, "invalid_request")
        case .empty: (400, "empty")
        case .invalidAudio: (400, "invalid_audio")
        case .unauthorized: (401, "unauthorized")
        case .notFound: (404, "not_found")
        case .methodNotAllowed: (405, "method_not_allowed")
        case .payloadTooLarge: (413, "payload_too_large")
        case .unsupportedMediaType: (415, "unsupported_media_type")
        case .validation: (422, "validation")
        case .overloaded: (429, "overloaded")
        case .clientGone: (499, "client_gone")
        case .backend: (500, "backend")
        case .unavailable: (503, "unhealthy")
        }
    }

    public var status: Int { statusAndType.0 }

    /// Headers that go with the status.
    public var headers: [(String, String)] {
        switch self {
        case let .overloaded(_, retryAfter): [("Retry-After", String(retryAfter))]
        case .unavailable: [("Retry-After", "5")]
        case .unauthorized: [("WWW-Authenticate", "Bearer")]
        case let .methodNotAllowed(allowed): [("Allow", allowed.joined(separator: ", "))]
        case .unsupportedMediaType:
            [
                (
                    "Accept-Post",
                    "multipart/form-data, " + AudioFormat.mediaTypes.sorted().joined(separator: ", ")
                        + ", application/octet-stream, application/json"
                )
            ]
        default: []
        }
    }

    public var message: String {
        switch self {
        case let .invalidRequest(m), let .empty(m), let .invalidAudio(m), let .notFound(m),
            let .payloadTooLarge(m), let .validation(m, _), let .backend(m), let .overloaded(m, _):
            m
        case .unauthorized: "missing or invalid API key; send 'Authorization: Bearer <key>'"
        case let .methodNotAllowed(allowed): "method not allowed; use \(allowed.joined(separator: ", "))"
        case let .unsupportedMediaType(m): "\(m); accepted: \(Self.acceptedMedia)"
        case let .unavailable(status, reason): "server is \(status): \(reason)"
        case .clientGone: "the client closed the connection before the answer"
        }
    }

    /// The in-flight upload budget (`--max-inflight-upload-mb`) cannot hold a request's bytes.
    static func uploadBudgetSpent(limit: Int) -> ServerError {
        .overloaded(
            "the server is holding its limit of \(limit >> 20) MiB of uploads (--max-inflight-upload-mb); "
                + "retry shortly",
            retryAfter: 1)
    }

    /// The reason label of m2d_rejected_requests_total, if this is a rejection.
    public var rejectionReason: String? {
        switch self {
        case let .overloaded(m, _): m.contains("--max-inflight") ? "budget" : "overloaded"
        case .payloadTooLarge: "payload_too_large"
        case .unsupportedMediaType: "unsupported_media_type"
        case .validation: "validation"
        case .unauthorized: "unauthorized"
        case .unavailable: "not_ready"
        default: nil
        }
    }

    /// This error with `prefix` before its message (which input of a batch failed).
    func prefixed(_ prefix: String) -> ServerError {
        switch self {
        case let .invalidAudio(m): .invalidAudio(prefix + m)
        case let .empty(m): .empty(prefix + m)
        case let .payloadTooLarge(m): .payloadTooLarge(prefix + m)
        case let .validation(m, param): .validation(prefix + m, param: param)
        case let .unsupportedMediaType(m): .unsupportedMediaType(prefix + m)
        default: self
        }
    }

    /// Converts errors of the lower layers.
    public static func from(_ error: any Error) -> ServerError {
        switch error {
        case let e as ServerError: return e
        case let e as AudioError:
            switch e {
            case .tooLong: return .payloadTooLarge("\(e) (--max-audio-seconds)")
            case .tooManySamples: return .payloadTooLarge("\(e) (--max-decoded-samples)")
            case .tooManyChannels, .nonFiniteSamples, .sampleRateTooHigh: return .validation(e.description)
            case .empty: return .empty(e.description)
            case .undecodable, .truncated: return .invalidAudio(e.description)
            case .resampleFailed: return .backend(e.description)
            }
        case let e as EncoderError: return .backend(e.description)
        case let e as ModelError: return .backend(e.description)
        default: return .backend("\(error)")
        }
    }
}

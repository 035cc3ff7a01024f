// ServerError: every error a client can see, and the one table that maps each to a status code
// and error_type (PEERS-AND-API.md 3.4). Lower layers throw their own typed errors; `from(_:)`
// converts them in one place.
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
    case overloaded
    case unavailable(status: String, reason: String)
    case backend(String)

    public static let acceptedMedia = "multipart/form-data (field 'file'), audio/wav, audio/x-wav, audio/wave, audio/flac, audio/ogg, audio/opus, audio/mpeg, audio/aiff, application/octet-stream, application/json ({\"inputs\": base64 or data URI})"

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
        case .unavailable: (503, "unhealthy")
        case .backend: (500, "backend")
        }
    }

    public var status: Int { statusAndType.0 }

    public var message: String {
        switch self {
        case let .invalidRequest(m), let .empty(m), let .invalidAudio(m), let .notFound(m),
             let .payloadTooLarge(m), let .validation(m, _), let .backend(m):
            m
        case .unauthorized: "missing or invalid API key; send 'Authorization: Bearer <key>'"
        case let .methodNotAllowed(allowed): "method not allowed; use \(allowed.joined(separator: ", "))"
        case let .unsupportedMediaType(m): "\(m); accepted: \(Self.acceptedMedia)"
        case .overloaded: "too many concurrent requests; retry shortly"
        case let .unavailable(status, reason): "server is \(status): \(reason)"
        }
    }

    /// The rejection reason label of m2d_rejected_requests_total, if this is a rejection.
    public var rejectionReason: String? {
        switch self {
        case .overloaded: "overloaded"
        case .payloadTooLarge: "payload_too_large"
        case .unsupportedMediaType: "unsupported_media_type"
        case .validation: "validation"
        case .unauthorized: "unauthorized"
        case .unavailable: "not_ready"
        default: nil
        }
    }

    /// Converts errors of the lower layers.
    public static func from(_ error: any Error) -> ServerError {
        switch error {
        case let e as ServerError: return e
        case let e as AudioError:
            switch e {
            case .tooLong: return .payloadTooLarge("\(e) (--max-audio-seconds)")
            case .tooManyChannels, .nonFiniteSamples, .sampleRateTooHigh: return .validation(e.description)
            case .tooManySamples: return .payloadTooLarge(e.description)
            case .empty: return .empty(e.description)
            case .undecodable, .truncated: return .invalidAudio(e.description)
            case .resampleFailed: return .backend(e.description)
            }
        case let e as ModelError: return .backend(e.description)
        default: return .backend("\(error)")
        }
    }
}

/// JSON error bodies: native routes use TEI's flat shape, /v1 routes OpenAI's nested one.
public enum ErrorBody {
    public static func response(_ error: ServerError, openAI: Bool = false, requestID: String? = nil) -> HTTPResponse {
        let (status, type) = error.statusAndType
        let body: String
        if openAI {
            let oaType = status == 401 ? "authentication_error" : status == 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error"
            var param = "null"
            if case let .validation(_, p?) = error { param = JSON.string(p) }
            body = #"{"error":{"message":\#(JSON.string(error.message)),"type":"\#(oaType)","param":\#(param),"code":\#(status)}}"#
        } else {
            body = #"{"error":\#(JSON.string(error.message)),"error_type":"\#(type)","code":\#(status)}"#
        }
        var headers: [(String, String)] = []
        switch error {
        case .overloaded: headers.append(("Retry-After", "1"))
        case .unavailable: headers.append(("Retry-After", "5"))
        case .unauthorized: headers.append(("WWW-Authenticate", "Bearer"))
        case let .methodNotAllowed(allowed): headers.append(("Allow", allowed.joined(separator: ", ")))
        case .unsupportedMediaType: headers.append(("Accept-Post", "multipart/form-data, audio/wav, audio/flac, audio/ogg, audio/mpeg, application/octet-stream, application/json"))
        default: break
        }
        if let requestID { headers.append(("x-request-id", requestID)) }
        return .json(status, body, headers: headers)
    }
}

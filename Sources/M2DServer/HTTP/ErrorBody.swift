// Error bodies: native routes use TEI's flat shape, /v1 routes OpenAI's nested one.
import M2DJSON

struct NativeErrorBody: Encodable {
    let error: String
    let errorType: String
    let code: Int

    enum CodingKeys: String, CodingKey { case error, errorType = "error_type", code }
}

struct OpenAIErrorBody: Encodable {
    struct Detail: Encodable {
        let message: String
        let type: String
        let param: String?
        let code: Int

    }

    let error: Detail
}

public enum ErrorBody {
    public static func response(_ error: ServerError, openAI: Bool = false) -> HTTPResponse {
        let (status, type) = error.statusAndType
        let body: [UInt8]
        if openAI {
            let oaType =
                status == 401
                ? "authentication_error"
                : status == 429
                    ? "rate_limit_error"
                    : status >= 500 ? "server_error" : "invalid_request_error"
            var param: String?
            if case let .validation(_, p) = error { param = p }
            body = JSONResponse.bytes(
                OpenAIErrorBody(error: .init(message: error.message, type: oaType, param: param, code: status)))
        } else {
            body = JSONResponse.bytes(NativeErrorBody(error: error.message, errorType: type, code: status))
        }
        return .json(status, body, headers: error.headers)
    }
}

/// Encodes response DTOs; our own DTOs cannot fail to encode.
enum JSONResponse {
    static func bytes<T: Encodable>(_ value: T) -> [UInt8] {
        do { return try JSONEncoding.encode(value) } catch {
            preconditionFailure("response DTO failed to encode: \(error)")
        }
    }
}

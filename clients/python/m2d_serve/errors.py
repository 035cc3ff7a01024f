"""Typed exceptions, one per error_type of the server's error table (docs/HTTP-API.md §4)."""


class M2DError(Exception):
    """An error answer from m2d-server: `status`, `error_type` and the server's `message`."""

    error_type = "error"

    def __init__(self, message, status=None, error_type=None, retry_after=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type or self.error_type
        self.retry_after = retry_after

    def __str__(self):
        return f"{self.status} {self.error_type}: {self.message}"


class EmptyInput(M2DError): error_type = "empty"
class InvalidRequest(M2DError): error_type = "invalid_request"
class InvalidAudio(M2DError): error_type = "invalid_audio"
class Unauthorized(M2DError): error_type = "unauthorized"
class NotFound(M2DError): error_type = "not_found"
class MethodNotAllowed(M2DError): error_type = "method_not_allowed"
class PayloadTooLarge(M2DError): error_type = "payload_too_large"
class UnsupportedMediaType(M2DError): error_type = "unsupported_media_type"
class ValidationError(M2DError): error_type = "validation"
class Overloaded(M2DError): error_type = "overloaded"
class BackendError(M2DError): error_type = "backend"
class Unhealthy(M2DError): error_type = "unhealthy"


class ConnectionFailed(M2DError):
    """No HTTP answer at all (refused, reset or timed out)."""
    error_type = "connection"


BY_TYPE = {c.error_type: c for c in [EmptyInput, InvalidRequest, InvalidAudio, Unauthorized, NotFound,
                                     MethodNotAllowed, PayloadTooLarge, UnsupportedMediaType, ValidationError,
                                     Overloaded, BackendError, Unhealthy]}
# OpenAI-shaped routes (/v1/*) send {"error": {"message", "type", "code"}}; their types map here.
BY_STATUS = {400: InvalidRequest, 401: Unauthorized, 404: NotFound, 405: MethodNotAllowed, 413: PayloadTooLarge,
             415: UnsupportedMediaType, 422: ValidationError, 429: Overloaded, 500: BackendError, 503: Unhealthy}


def from_response(status, body, retry_after=None):
    """The exception for an error answer (its JSON body parsed, or None)."""
    message, kind = f"HTTP {status}", None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):  # OpenAI shape
            message, kind = err.get("message", message), err.get("type")
        elif isinstance(err, str):
            message, kind = err, body.get("error_type")
    cls = BY_TYPE.get(kind) or BY_STATUS.get(status, M2DError)
    return cls(message, status=status, error_type=kind or cls.error_type, retry_after=retry_after)

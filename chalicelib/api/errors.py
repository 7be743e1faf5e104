"""The one place that turns errors into HTTP responses.

Domain errors (`chalicelib.domain.errors`) map to a status by their family; anything else is a
500 `internal_error` whose details go to the log, never to the client. Chalice's own error
responses (`{"Code": ..., "Message": ...}` for 405, 415, bad JSON, ...) are rewritten into the
same shape: `{"error": {"code", "message", "field"?}}`.
"""

from __future__ import annotations

import logging
from typing import Any

from chalice.app import ChaliceUnhandledError, Response

from chalicelib.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PreconditionRequired,
    SchedulerError,
    StorageUnavailable,
    Throttled,
    Unauthenticated,
)

log = logging.getLogger(__name__)

INTERNAL_MESSAGE = "An internal error occurred."
_STATUS_BY_FAMILY: tuple[tuple[type[SchedulerError], int], ...] = (
    (InvalidInput, 400),
    (PayloadTooLarge, 413),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PreconditionRequired, 428),
    (Throttled, 429),
    (StorageUnavailable, 503),
)
_status_cache: dict[type[SchedulerError], int] = {}

# Chalice's own error codes (chalice.app.error_response / ChaliceViewError class names) → ours.
_CHALICE_CODES: dict[str, tuple[str, str | None]] = {
    "MethodNotAllowedError": ("method_not_allowed", None),
    "UnsupportedMediaType": ("unsupported_media_type", "send the body as application/json"),
    "BadRequestError": ("bad_request", None),
    "BadRequest": ("bad_request", None),
    "NotFoundError": ("not_found", "not found"),
    "UnauthorizedError": ("unauthorized", "send Authorization: Bearer <api key>"),
    "ForbiddenError": ("forbidden", "not allowed"),
    "ConflictError": ("conflict", None),
    "TooManyRequestsError": ("rate_limited", "too many requests"),
    "RequestTimeoutError": ("request_timeout", "the request took too long"),
    "UnprocessableEntityError": ("validation_error", None),
}


class Escalated(ChaliceUnhandledError):
    """Carries an exception a view raised past Chalice's own handler to our middleware."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def status_of(error: SchedulerError) -> int:
    """The HTTP status of a domain error (500 for an error of no known family)."""
    kind = type(error)
    status = _status_cache.get(kind)
    if status is None:
        status = next((code for family, code in _STATUS_BY_FAMILY if isinstance(error, family)), 500)
        _status_cache[kind] = status
    return status


def error_json(error: SchedulerError) -> dict[str, Any]:
    """`{"error": {...}}` of a domain error (also used for the failed items of a batch)."""
    if status_of(error) == 500:
        return _body("internal_error", INTERNAL_MESSAGE)
    return _body(error.code, error.message, error.field)


def error_response(error: BaseException) -> Response:
    """The response for any exception a view raised; unexpected ones are logged with their traceback."""
    if not isinstance(error, SchedulerError):
        log.error("unhandled error: %s", type(error).__name__, exc_info=error)
        return _response(500, _body("internal_error", INTERNAL_MESSAGE))
    status = status_of(error)
    if status == 500:
        log.error("domain error without an HTTP mapping: %s", type(error).__name__, exc_info=error)
    headers: dict[str, str | list[str]] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    elif isinstance(error, Throttled | StorageUnavailable):
        headers["Retry-After"] = str(max(1, int(error.retry_after_s)))
    return _response(status, error_json(error), headers)


def rewrite_chalice_error(response: Response) -> Response:
    """Chalice's `{"Code", "Message"}` error response in our shape (headers such as `Allow` kept)."""
    body = response.body
    status = response.status_code
    chalice_code = str(body.get("Code", ""))
    if status >= 500:
        return _response(500, _body("internal_error", INTERNAL_MESSAGE))
    code, message = _CHALICE_CODES.get(chalice_code, (None, None))
    text = str(body.get("Message") or "")
    if chalice_code == "BadRequestError" and text == "Error Parsing JSON":
        code, message = "invalid_json", "the body is not valid JSON"
    elif chalice_code == "MethodNotAllowedError":
        message = f"this path does not allow that method; allowed: {response.headers.get('Allow', 'none')}"
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    return _response(status, _body(code or f"http_{status}", message or text or "request failed"), headers)


def _body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def _response(status: int, body: dict[str, Any], headers: dict[str, str | list[str]] | None = None) -> Response:
    merged: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    if headers:
        merged.update(headers)
    return Response(body=body, status_code=status, headers=merged)

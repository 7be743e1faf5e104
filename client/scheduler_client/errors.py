"""Errors the client raises: one for API error responses, one for a server it cannot reach."""

from __future__ import annotations

__all__ = ["SchedulerAPIError", "SchedulerClientError", "SchedulerConnectionError"]


class SchedulerClientError(Exception):
    """Base of every error the client raises."""


class SchedulerAPIError(SchedulerClientError):
    """The API answered with an error: `{"error": {"code", "message", "field"?}}` and its status.

    `retry_after_s` carries the `Retry-After` of a 429 or 503 that the client gave up retrying.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retry_after_s = retry_after_s

    def __repr__(self) -> str:
        return (
            f"SchedulerAPIError(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, field={self.field!r})"
        )


class SchedulerConnectionError(SchedulerClientError):
    """The request did not get an answer: connection refused, DNS failure, timeout (after retries)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach {url}: {reason}")
        self.url = url
        self.reason = reason

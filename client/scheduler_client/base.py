"""What the sync and async clients share: where the server is, the headers of every request, retries."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from scheduler_client.retry import RetryPolicy

USER_AGENT = "point-in-time-scheduler-client/0.1"
DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Connection:
    """The server's base URL, the bearer token, the timeout and the retry policy."""

    base_url: str
    api_key: str | None
    timeout_s: float = DEFAULT_TIMEOUT_S
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def headers(self) -> dict[str, str]:
        """Headers of every request."""
        headers = {"user-agent": USER_AGENT, "accept": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers

    def url(self, path: str) -> str:
        """The absolute URL of an API path."""
        return self.base_url.rstrip("/") + path


def may_have_arrived(error: httpx.TransportError) -> bool:
    """False when the connection was never made, so the server cannot have seen the request."""
    return not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)


def describe(error: httpx.TransportError) -> str:
    """A short, human reason for a request that got no answer."""
    if isinstance(error, httpx.TimeoutException):
        return "the request timed out"
    if _caused_by_refusal(error) or "refused" in str(error).lower():
        return "connection refused (is the server running?)"
    return str(error) or type(error).__name__


def _caused_by_refusal(error: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ConnectionRefusedError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False

"""When the client tries a request again, and how long it waits first.

- 429 is retried for every request: the API refuses it before doing anything.
- A connection that could not be made (refused, DNS, connect timeout) is retried for every request:
  nothing reached the server.
- 5xx and other transport errors (read timeout, dropped connection) are retried only for requests
  that are safe to repeat: reads, and message creation, which always carries an idempotency key.
- The wait is the response's `Retry-After` when it has one (seconds or an HTTP date), else
  exponential backoff with full jitter. A `Retry-After` longer than `max_retry_after_s` (a daily
  quota, say) is not waited for: the error is raised with `retry_after_s` set.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

__all__ = ["RetryPolicy", "parse_retry_after"]

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


def parse_retry_after(value: str | None, *, now_s: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta-seconds or an HTTP date); None if absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    now = time.time() if now_s is None else now_s
    return max(0.0, moment.timestamp() - now)


@dataclass(frozen=True)
class RetryPolicy:
    """How many tries a request gets (`max_attempts` in all) and how long to wait between them."""

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    max_retry_after_s: float = 60.0
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff after try number `attempt` (1-based)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return ceiling * self.random()

    def delay_for_status(self, status: int, headers: Mapping[str, str], *, attempt: int, safe: bool) -> float | None:
        """Seconds to wait before trying again after `status`, or None to give up now."""
        if attempt >= self.max_attempts:
            return None
        if status != 429 and not (safe and status in RETRYABLE_STATUSES):
            return None
        retry_after = parse_retry_after(headers.get("retry-after"))
        if retry_after is None:
            return self.backoff(attempt)
        return retry_after if retry_after <= self.max_retry_after_s else None

    def delay_for_transport_error(self, *, attempt: int, safe: bool, sent: bool) -> float | None:
        """Seconds to wait after a request got no answer (`sent`: it may have reached the server), or None."""
        if attempt >= self.max_attempts or (sent and not safe):
            return None
        return self.backoff(attempt)


NO_RETRY = RetryPolicy(max_attempts=1)

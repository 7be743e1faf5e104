"""`RetryPolicy`: when failed attempts are retried, and how often (a value; pure, no I/O).

The delays after the 1st, 2nd, ... failed attempt (the last one repeats), spread by `jitter` so that
retries of many messages do not move in lockstep, the attempts a message gets by default, and the cap
on a receiver's `Retry-After`. Each app has one (`App.retry`, set through the API's `retry` object);
`DEFAULT_POLICY` is the contract's (about 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, ±20 %, 8 attempts,
`Retry-After` up to 24 h). Both backends apply it through the delivery runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BACKOFF_MS = (5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000)
JITTER = 0.2
MAX_RETRY_AFTER_MS = 86_400_000
DEFAULT_MAX_ATTEMPTS = 8
MAX_ATTEMPTS_LIMIT = 50
MAX_DELAY_MS = 86_400_000  # one step waits at most a day (payload retention on AWS relies on it)
MIN_DELAY_MS = 1_000
MAX_SCHEDULE_STEPS = 20
MAX_JITTER = 0.5


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A retry policy; invalid values raise `ValueError` (the API validates before building one)."""

    schedule_ms: tuple[int, ...] = BACKOFF_MS
    jitter: float = JITTER
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_retry_after_ms: int = MAX_RETRY_AFTER_MS

    def __post_init__(self) -> None:
        if not 1 <= len(self.schedule_ms) <= MAX_SCHEDULE_STEPS:
            raise ValueError(f"a retry schedule has 1 to {MAX_SCHEDULE_STEPS} delays")
        if any(not MIN_DELAY_MS <= step <= MAX_DELAY_MS for step in self.schedule_ms):
            raise ValueError("each retry delay is between 1 second and 1 day")
        if not 0 <= self.jitter <= MAX_JITTER:
            raise ValueError(f"retry jitter is between 0 and {MAX_JITTER}")
        if not 1 <= self.max_attempts <= MAX_ATTEMPTS_LIMIT:
            raise ValueError(f"maxAttempts is between 1 and {MAX_ATTEMPTS_LIMIT}")
        if not 0 <= self.max_retry_after_ms <= MAX_RETRY_AFTER_MS:
            raise ValueError("the Retry-After cap is between 0 and 1 day")

    def backoff_ms(self, failed_attempts: int, draw: float) -> int:
        """Delay before the next attempt after `failed_attempts` failures; `draw` is uniform in [0, 1)."""
        base = self.schedule_ms[min(failed_attempts, len(self.schedule_ms)) - 1]
        return round(base * (1 - self.jitter + 2 * self.jitter * draw))

    def delay_ms(self, failed_attempts: int, retry_after_s: float | None, draw: float) -> int:
        """`Retry-After` when the receiver sent one (capped), else the backoff."""
        if retry_after_s is not None and retry_after_s >= 0:
            return min(round(retry_after_s * 1000), self.max_retry_after_ms)
        return self.backoff_ms(failed_attempts, draw)

    def as_dict(self) -> dict[str, Any] | None:
        """What a store keeps besides `max_attempts` (its own column); None for the default schedule."""
        if (self.schedule_ms, self.jitter, self.max_retry_after_ms) == (BACKOFF_MS, JITTER, MAX_RETRY_AFTER_MS):
            return None
        return {"scheduleMs": list(self.schedule_ms), "jitter": self.jitter, "maxRetryAfterMs": self.max_retry_after_ms}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, max_attempts: int) -> RetryPolicy:
        """The policy `as_dict` gave (None: the default schedule), with `max_attempts`."""
        if not data:
            return cls(max_attempts=max_attempts)
        return cls(
            schedule_ms=tuple(int(step) for step in data["scheduleMs"]),
            jitter=float(data["jitter"]),
            max_attempts=max_attempts,
            max_retry_after_ms=int(data["maxRetryAfterMs"]),
        )


DEFAULT_POLICY = RetryPolicy()

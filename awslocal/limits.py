"""The usage plan limits API Gateway enforces per API key: a token bucket (rate, burst) and a quota."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime


class TokenBucket:
    """`burst` tokens, refilled at `rate` per second; a request takes one or is throttled."""

    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._capacity = float(max(1, burst))
        self._tokens = self._capacity
        self._monotonic = monotonic
        self._at = monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Take a token if there is one."""
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


class Quota:
    """At most `limit` requests per UTC day."""

    def __init__(self, limit: int, today: Callable[[], str] = lambda: datetime.now(UTC).date().isoformat()) -> None:
        self._limit = limit
        self._today = today
        self._day = ""
        self._used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Count one request if the day's quota allows it."""
        with self._lock:
            day = self._today()
            if day != self._day:
                self._day, self._used = day, 0
            if self._used >= self._limit:
                return False
            self._used += 1
            return True

"""Per-tenant limits in process: a token bucket for requests and a daily message quota."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.errors import QuotaExceeded, Throttled
from chalicelib.domain.times import MS_PER_DAY, day_of
from chalicelib.settings import Settings


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_ms: int


class LocalLimiter:
    """`Limiter` for one process. The quota starts from the day's stored `scheduled` count, so a restart
    does not hand out a fresh quota."""

    def __init__(self, settings: Settings, scheduled_on: Callable[[str, str], int]) -> None:
        self._settings = settings
        self._scheduled_on = scheduled_on
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._used: dict[tuple[str, str], int] = {}

    def check(self, tenant_id: str, plan: str, *, messages: int, now_ms: int) -> None:
        """Take one request token and `messages` of today's quota, or raise."""
        limits = self._settings.plan(plan)
        with self._lock:
            bucket = None
            if limits.rate_per_s is not None:
                bucket = self._refill(tenant_id, limits.rate_per_s, limits.burst or 1, now_ms)
                if bucket.tokens < 1:
                    wait_s = math.ceil((1 - bucket.tokens) / limits.rate_per_s)
                    raise Throttled(f"rate limit of {limits.rate_per_s:g} requests/s exceeded", retry_after_s=wait_s)
            if limits.daily_quota is not None and messages:
                day = day_of(now_ms)
                used = self._used.get((tenant_id, day))
                if used is None:
                    self._forget_days_before(day)
                    used = self._scheduled_on(tenant_id, day)
                if used + messages > limits.daily_quota:
                    wait_s = math.ceil((MS_PER_DAY - now_ms % MS_PER_DAY) / 1000)
                    raise QuotaExceeded(
                        f"daily quota of {limits.daily_quota} messages reached ({used} used)", retry_after_s=wait_s
                    )
                self._used[(tenant_id, day)] = used + messages
            if bucket is not None:
                bucket.tokens -= 1

    def _forget_days_before(self, day: str) -> None:
        for key in [key for key in self._used if key[1] < day]:
            del self._used[key]

    def _refill(self, tenant_id: str, rate: float, burst: int, now_ms: int) -> _Bucket:
        bucket = self._buckets.get(tenant_id)
        if bucket is None:
            bucket = self._buckets[tenant_id] = _Bucket(float(burst), now_ms)
        elapsed_s = max(0, now_ms - bucket.updated_ms) / 1000
        bucket.tokens = min(float(burst), bucket.tokens + elapsed_s * rate)
        bucket.updated_ms = now_ms
        return bucket

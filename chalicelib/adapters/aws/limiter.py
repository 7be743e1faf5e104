"""The `Limiter` port on AWS: request rate and burst are API Gateway usage plans (per tenant, through the
usage key the authorizer returns); the daily message quota is checked here against the metered
`scheduled` counters. The count is read at most every `refresh_ms` per tenant and container and
advanced locally in between, so the quota is soft by what other containers take meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from chalicelib.domain.errors import QuotaExceeded
from chalicelib.domain.times import MS_PER_DAY, day_of
from chalicelib.settings import Settings


class DynamoQuotaLimiter:
    """Daily quota from the usage table; `scheduled_on(tenant, day)` reads the day's count."""

    def __init__(self, settings: Settings, scheduled_on: Callable[[str, str], int], *, refresh_ms: int = 5_000) -> None:
        self._settings = settings
        self._scheduled_on = scheduled_on
        self._refresh_ms = refresh_ms
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], tuple[int, int]] = {}  # (tenant, day) -> (count, read at)

    def check(self, tenant_id: str, plan: str, *, messages: int, now_ms: int) -> None:
        """Take `messages` from today's quota or raise `QuotaExceeded` (rates are API Gateway's job)."""
        quota = self._settings.plan(plan).daily_quota
        if quota is None or messages == 0:
            return
        day = day_of(now_ms)
        with self._lock:
            count, read_at = self._seen.get((tenant_id, day), (0, -self._refresh_ms))
        if now_ms - read_at >= self._refresh_ms:
            count, read_at = self._scheduled_on(tenant_id, day), now_ms
        if count + messages > quota:
            retry = max(1, (MS_PER_DAY - now_ms % MS_PER_DAY) // 1000)
            raise QuotaExceeded(f"daily quota of {quota} messages is used up", retry_after_s=retry)
        with self._lock:
            self._seen[(tenant_id, day)] = (count + messages, read_at)

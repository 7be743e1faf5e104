"""Per-tenant limits in process: a token bucket per tenant for the request rate, and a fair gate for
CPU-heavy requests (the daily quota is the store's)."""

from __future__ import annotations

import math
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass

from chalicelib.domain.errors import Throttled
from chalicelib.settings import Settings
from scheduler_local.fairness import FairSemaphore

HEAVY_SLOTS = 1  # large requests parsed at once, of all tenants: one GIL, so more only adds contention


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_ms: int


class LocalLimiter:
    """`Limiter` for one process: `rate_per_s` refills, `burst` caps the bucket."""

    def __init__(self, settings: Settings, *, heavy_slots: int = HEAVY_SLOTS) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._heavy = FairSemaphore(heavy_slots, per_lane=1)

    def heavy(self, tenant_id: str) -> AbstractContextManager[None]:
        """One of `heavy_slots` places for a large request, at most one per tenant, given round-robin: a
        tenant's twelve 5 MB batches are parsed one after another, not all at once beside everyone else."""
        return self._heavy.hold(tenant_id)

    def check(self, tenant_id: str, plan: str, *, now_ms: int) -> None:
        """Take one request token, or raise `Throttled`."""
        limits = self._settings.plan(plan)
        if limits.rate_per_s is None:
            return
        with self._lock:
            bucket = self._refill(tenant_id, limits.rate_per_s, limits.burst or 1, now_ms)
            if bucket.tokens < 1:
                wait_s = math.ceil((1 - bucket.tokens) / limits.rate_per_s)
                raise Throttled(f"rate limit of {limits.rate_per_s:g} requests/s exceeded", retry_after_s=wait_s)
            bucket.tokens -= 1

    def _refill(self, tenant_id: str, rate: float, burst: int, now_ms: int) -> _Bucket:
        bucket = self._buckets.get(tenant_id)
        if bucket is None:
            bucket = self._buckets[tenant_id] = _Bucket(float(burst), now_ms)
        elapsed_s = max(0, now_ms - bucket.updated_ms) / 1000
        bucket.tokens = min(float(burst), bucket.tokens + elapsed_s * rate)
        bucket.updated_ms = now_ms
        return bucket

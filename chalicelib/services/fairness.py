"""Fair sharing of the delivery pool: across tenants first, then across each tenant's apps.

A tenant with many apps whose endpoints hang must not take the pool: a cap per app alone let 9 apps
x 64 = 576 attempts exceed the 512 slots. `FairShareLimiter` is the local runner's `InFlightLimiter`:
what the runner asks before each claim (`admission`), tells what it claimed (`acquire`) and what
finished (`release`):

- a tenant may hold at most `min(per_tenant, capacity // (busy tenants + 1))` attempts, and an app at
  most `min(per_app, tenant cap // (the tenant's busy apps + 1))`. Both shares shrink as more tenants
  (apps) have attempts in flight, and the `+ 1` always leaves room for one that has none: a quiet
  tenant's message is claimed as soon as it is due, whatever the others do (max-min fairness with
  headroom; attempts above a share that shrank are not stopped, they finish and are not replaced);
- a claim takes no more than the smallest headroom of a tenant or app in flight (but at least
  `CLAIM_FLOOR`, so claims stay batches), so one claim of earliest-due messages overshoots a cap by
  less than `CLAIM_FLOOR`; the queue skips the excluded tenants and apps.

Pure bookkeeping behind a lock, no I/O: drivers may claim on one thread and release on another.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence

from chalicelib.domain.model import Message
from chalicelib.ports import Admission, Lease

CLAIM_FLOOR = 8  # a claim may take this many even when a share has less room: caps overshoot by < 8


class FairShareLimiter:
    """An `InFlightLimiter` (`chalicelib.services.inflight`); see the module docstring."""

    def __init__(self, capacity: int, *, per_tenant: int, per_app: int) -> None:
        self._capacity = capacity
        self._per_tenant = per_tenant
        self._per_app = per_app
        self._lock = threading.Lock()
        self._total = 0
        self._by_tenant: collections.Counter[str] = collections.Counter()
        self._by_app: collections.Counter[tuple[str, str]] = collections.Counter()
        self._apps_of: collections.Counter[str] = collections.Counter()  # busy apps per tenant
        self._excluded_tenants: frozenset[str] = frozenset()  # of the last admission
        self._excluded_apps: frozenset[tuple[str, str]] = frozenset()

    def admission(self, batch: int) -> Admission:
        """Room left in the pool, without the tenants and apps at their share."""
        with self._lock:
            room = min(batch, self._capacity - self._total)
            if room <= 0:
                return Admission(limit=0)
            tenant_cap = self._tenant_cap()
            excluded_tenants: set[str] = set()
            excluded_apps: set[tuple[str, str]] = set()
            headroom = [room, tenant_cap]  # a tenant with nothing in flight may take up to its cap
            for tenant, count in self._by_tenant.items():
                if count >= tenant_cap:
                    excluded_tenants.add(tenant)
                else:
                    headroom.append(tenant_cap - count)
            for (tenant, app), count in self._by_app.items():
                if tenant in excluded_tenants:
                    continue
                app_cap = self._app_cap(tenant, tenant_cap)
                if count >= app_cap:
                    excluded_apps.add((tenant, app))
                else:
                    headroom.append(app_cap - count)
            headroom.append(self._app_cap(None, tenant_cap))
            self._excluded_tenants, self._excluded_apps = frozenset(excluded_tenants), frozenset(excluded_apps)
            limit = min(room, max(CLAIM_FLOOR, min(headroom)))
            return Admission(limit, frozenset(app for _, app in excluded_apps), self._excluded_tenants)

    def acquire(self, leases: Sequence[Lease]) -> None:
        """These were claimed and are in flight now."""
        with self._lock:
            for lease in leases:
                message = lease.message
                key = (message.tenant_id, message.app_id)
                if self._by_app[key] == 0:
                    self._apps_of[message.tenant_id] += 1
                self._by_app[key] += 1
                self._by_tenant[message.tenant_id] += 1
                self._total += 1

    def release(self, messages: Sequence[Message]) -> bool:
        """These are no longer in flight. True when that may admit what the last admission excluded, or
        the pool was full (worth claiming again now)."""
        with self._lock:
            was_full = self._total >= self._capacity
            for message in messages:
                key = (message.tenant_id, message.app_id)
                self._total -= 1
                self._by_tenant[message.tenant_id] -= 1
                if self._by_tenant[message.tenant_id] <= 0:
                    del self._by_tenant[message.tenant_id]
                self._by_app[key] -= 1
                if self._by_app[key] <= 0:
                    del self._by_app[key]
                    self._apps_of[message.tenant_id] -= 1
                    if self._apps_of[message.tenant_id] <= 0:
                        del self._apps_of[message.tenant_id]
            return was_full or self._admits_excluded()

    def _admits_excluded(self) -> bool:
        """Whether a tenant or app the last admission excluded is below its share now."""
        tenant_cap = self._tenant_cap()
        if any(self._by_tenant[tenant] < tenant_cap for tenant in self._excluded_tenants):
            return True
        return any(self._by_app[key] < self._app_cap(key[0], tenant_cap) for key in self._excluded_apps)

    @property
    def in_flight(self) -> int:
        """Attempts claimed and not yet released."""
        with self._lock:
            return self._total

    def in_flight_of(self, tenant_id: str) -> int:
        """One tenant's attempts in flight."""
        with self._lock:
            return self._by_tenant[tenant_id]

    def _tenant_cap(self) -> int:
        return max(1, min(self._per_tenant, self._capacity // (len(self._by_tenant) + 1)))

    def _app_cap(self, tenant: str | None, tenant_cap: int) -> int:
        busy = 0 if tenant is None else self._apps_of[tenant]
        return max(1, min(self._per_app, tenant_cap // (busy + 1)))

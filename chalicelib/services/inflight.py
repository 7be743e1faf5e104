"""How many attempts may be in flight, and of whom: the runner asks before every claim.

`InFlightLimiter` is the small, replaceable piece: the runner calls `admission` before it claims,
`acquire` with what it claimed and `release` once the results are written. A limiter that keeps a
per-tenant cap or shares the pool fairly across tenants implements the same three methods
(`Admission.excluded_tenants` carries its decision to the queue). Implementations are thread-safe:
a driver may claim on one thread and write results on another.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence
from typing import Protocol

from chalicelib.domain.model import Message
from chalicelib.ports import Admission, Lease


class InFlightLimiter(Protocol):
    """Admission control of the delivery runner."""

    def admission(self, batch: int) -> Admission:
        """What the next claim may take (at most `batch`)."""
        ...

    def acquire(self, leases: Sequence[Lease]) -> None:
        """These were claimed and are now in flight."""
        ...

    def release(self, messages: Sequence[Message]) -> bool:
        """These are no longer in flight (their results were written, or dropped as stale). True when
        that let a claim take what the last admission excluded (worth claiming again now)."""
        ...


class Unlimited:
    """No cap (one delivery Lambda holds one lease; Lambda's concurrency is the limit there)."""

    def admission(self, batch: int) -> Admission:
        """Everything, up to `batch`."""
        return Admission(limit=batch)

    def acquire(self, leases: Sequence[Lease]) -> None:
        """Nothing to count."""

    def release(self, messages: Sequence[Message]) -> bool:
        """Nothing was held back."""
        return False


class CapacityLimiter:
    """A pool of `capacity` attempts, at most `per_app` of them for one app (one slow endpoint cannot
    take the pool)."""

    def __init__(self, capacity: int, per_app: int) -> None:
        self._capacity = capacity
        self._per_app = per_app
        self._lock = threading.Lock()
        self._by_app: collections.Counter[str] = collections.Counter()
        self._total = 0

    def admission(self, batch: int) -> Admission:
        """Room left in the pool; apps at their cap are excluded."""
        with self._lock:
            full = frozenset(app for app, n in self._by_app.items() if n >= self._per_app)
            return Admission(limit=max(0, min(batch, self._capacity - self._total)), excluded_apps=full)

    def acquire(self, leases: Sequence[Lease]) -> None:
        """Count the claimed leases."""
        with self._lock:
            self._by_app.update(lease.message.app_id for lease in leases)
            self._total += len(leases)

    def release(self, messages: Sequence[Message]) -> bool:
        """Uncount; True if the pool was full or an app at its cap now has room."""
        with self._lock:
            full_before = [app for app, n in self._by_app.items() if n >= self._per_app]
            pool_was_full = self._total >= self._capacity
            self._by_app.subtract(message.app_id for message in messages)
            self._by_app += collections.Counter()  # drop zero counts
            self._total -= len(messages)
            return pool_was_full or any(self._by_app[app] < self._per_app for app in full_before)

    @property
    def in_flight(self) -> int:
        """Attempts claimed and not yet written."""
        with self._lock:
            return self._total

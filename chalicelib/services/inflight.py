"""How many attempts may be in flight, and of whom: the runner asks before every claim.

`InFlightLimiter` is the small, replaceable piece: the runner calls `admission` before it claims,
`acquire` with what it claimed and `release` once the results are written. The local engine's is
`chalicelib.services.fairness.FairShareLimiter` (fair shares of the pool per tenant, then per app;
`Admission.excluded_tenants`/`excluded_apps` carry its decision to the queue). Implementations are thread-safe:
a driver may claim on one thread and write results on another.
"""

from __future__ import annotations

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

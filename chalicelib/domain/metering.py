"""Usage counters derived from the writes the messages store recorded (pure: no I/O).

The AWS backend meters from the messages table's stream rather than inside the writes themselves
(see `chalicelib.adapters.aws.meter`): each recorded write of a message or an attempt is reduced to a
`Change`, and `usage_of` says what it adds. A message counts `scheduled` when it is stored and again
when a redrive schedules it from failed or cancelled; `delivered` or `failed` when it enters that
state; an attempt counts `attempts` when it is recorded. These are the counts the local backend
writes with its transitions (`retry.usage_of_transition`, `messages.schedule`, `messages.redrive`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from chalicelib.domain.model import Status, UsageDelta

REDRIVEN_FROM = frozenset({Status.FAILED, Status.CANCELLED})


class Kind(Enum):
    """What a recorded item is."""

    MESSAGE = "message"
    ATTEMPT = "attempt"


class Event(Enum):
    """How the item changed (DynamoDB Streams' `eventName`)."""

    INSERT = "INSERT"
    MODIFY = "MODIFY"
    REMOVE = "REMOVE"


@dataclass(frozen=True, slots=True)
class Change:
    """One recorded write: whose, on which UTC day, and the message's status before and after."""

    tenant_id: str
    day: str
    kind: Kind
    event: Event
    old_status: Status | None = None
    new_status: Status | None = None


def usage_of(change: Change) -> UsageDelta | None:
    """The counters one write adds, or None when it adds none (a claim, a cancel, an expiry ...)."""
    scheduled = delivered = failed = attempts = 0
    if change.kind is Kind.ATTEMPT:
        attempts = 1 if change.event is Event.INSERT else 0
    elif change.event is Event.INSERT:
        scheduled = 1
    elif change.event is Event.MODIFY:
        old, new = change.old_status, change.new_status
        scheduled = 1 if new is Status.SCHEDULED and old in REDRIVEN_FROM else 0
        delivered = 1 if new is Status.DELIVERED and old is not Status.DELIVERED else 0
        failed = 1 if new is Status.FAILED and old is not Status.FAILED else 0
    if not (scheduled or delivered or failed or attempts):
        return None
    return UsageDelta(change.tenant_id, change.day, scheduled, delivered, failed, attempts)


def add_up(deltas: Iterable[UsageDelta]) -> list[UsageDelta]:
    """The deltas summed per tenant-day, in the order each tenant-day first appears."""
    sums: dict[tuple[str, str], list[int]] = {}
    for d in deltas:
        total = sums.setdefault((d.tenant_id, d.day), [0, 0, 0, 0])
        for i, value in enumerate((d.scheduled, d.delivered, d.failed, d.attempts)):
            total[i] += value
    return [UsageDelta(tenant, day, *counts) for (tenant, day), counts in sums.items()]

"""Entities and the message state machine.

Every state change returns a new `Message` with `gen` bumped: a timer or lease carries the `gen`
it was made for, and a stale one finds nothing to claim. Stores write a change only if the stored
`gen` still equals the one the change was computed from (compare-and-set).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from chalicelib.domain.errors import WrongState
from chalicelib.domain.policy import RetryPolicy

T = TypeVar("T")


class Status(enum.StrEnum):
    """Where a message is in its life."""

    SCHEDULED = "scheduled"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = frozenset({Status.DELIVERED, Status.FAILED, Status.CANCELLED})


class FailureReason(enum.StrEnum):
    """Why a message ended `failed` (or `cancelled` with its app)."""

    GONE = "gone"
    EXHAUSTED = "exhausted"
    EXPIRED = "expired"
    APP_DELETED = "app_deleted"


class Scope(enum.StrEnum):
    """What an API key may do; `admin` implies the others."""

    ADMIN = "admin"
    SEND = "send"
    READ = "read"


@dataclass(frozen=True, slots=True)
class Plan:
    """A usage tier: requests per second, burst, messages per UTC day, and caps on what a tenant
    stores: apps, headers per app, bytes of headers per app, live API keys, recurring schedules and
    how often they may run (None = no limit)."""

    name: str
    rate_per_s: float | None
    burst: int | None
    daily_quota: int | None
    max_apps: int | None = None
    max_headers: int | None = None
    max_header_bytes: int | None = None
    max_schedules: int | None = None
    min_interval_s: int | None = None
    max_api_keys: int | None = None


@dataclass(frozen=True, slots=True)
class Tenant:
    """A customer; everything else belongs to one."""

    id: str
    name: str
    plan: str
    created_at: int


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A bearer key, stored by the SHA-256 of the token."""

    id: str
    tenant_id: str
    name: str
    scopes: frozenset[Scope]
    token_hash: str
    created_at: int
    revoked_at: int | None = None

    def allows(self, scope: Scope) -> bool:
        """Whether this key carries `scope` (admin carries every scope)."""
        return Scope.ADMIN in self.scopes or scope in self.scopes


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant, its plan, and the scopes of the token used."""

    tenant_id: str
    plan: str
    scopes: frozenset[Scope]
    key_id: str | None = None

    def allows(self, scope: Scope) -> bool:
        """Whether the caller may act with `scope`."""
        return Scope.ADMIN in self.scopes or scope in self.scopes


@dataclass(frozen=True, slots=True)
class SigningSecret:
    """One signing secret; a rotated-out secret keeps signing until `expires_at`."""

    value: str
    expires_at: int | None = None


@dataclass(frozen=True, slots=True)
class App:
    """A delivery target of a tenant."""

    id: str
    tenant_id: str
    name: str
    url: str
    headers: Mapping[str, str]
    retry: RetryPolicy
    secrets: tuple[SigningSecret, ...]
    created_at: int

    @property
    def max_attempts(self) -> int:
        """Attempts a new message of this app gets unless it says otherwise."""
        return self.retry.max_attempts

    def signing_secrets(self, now_ms: int) -> tuple[str, ...]:
        """The secrets that sign a delivery now: the current one first, then unexpired old ones."""
        return tuple(s.value for s in self.secrets if s.expires_at is None or s.expires_at > now_ms)


@dataclass(frozen=True, slots=True)
class Message:
    """A scheduled delivery. Times are Unix ms; `due_at` is when the next attempt may start."""

    id: str
    tenant_id: str
    app_id: str
    status: Status
    send_at: int
    due_at: int
    created_at: int
    max_attempts: int
    gen: int = 1
    attempts: int = 0
    attempts_base: int = 0
    not_after: int | None = None
    first_attempt_at: int | None = None
    delivered_at: int | None = None
    failure_reason: FailureReason | None = None
    idempotency_key: str | None = None
    schedule_id: str | None = None  # the recurring schedule this message is a run of

    @property
    def etag(self) -> str:
        """Opaque version tag for `If-Match`; changes with every state change."""
        return f'"{self.gen}"'

    @property
    def late_ms(self) -> int | None:
        """First attempt start minus `sendAt`."""
        return None if self.first_attempt_at is None else self.first_attempt_at - self.send_at

    @property
    def next_attempt_at(self) -> int | None:
        """When the next attempt starts, while one is pending."""
        return self.due_at if self.status is Status.SCHEDULED else None

    @property
    def round_attempts(self) -> int:
        """Attempts since the last redrive (all of them when never redriven): what `max_attempts` bounds."""
        return self.attempts - self.attempts_base

    @property
    def attempts_left(self) -> int:
        """Attempts this message may still make before it is exhausted."""
        return self.max_attempts - (self.attempts - self.attempts_base)

    def evolve(self, **changes: object) -> Message:
        """A copy with `changes` and the next generation."""
        return dataclasses.replace(self, gen=self.gen + 1, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery attempt as recorded."""

    message_id: str
    tenant_id: str
    app_id: str
    n: int
    started_at: int
    duration_ms: int
    status_code: int | None
    error: str | None
    response_snippet: str


@dataclass(frozen=True, slots=True)
class UsageDelta:
    """Counter increments for one tenant-day, written with the state change that caused them."""

    tenant_id: str
    day: str
    scheduled: int = 0
    delivered: int = 0
    failed: int = 0
    attempts: int = 0


@dataclass(slots=True)
class UsageDay:
    """A tenant's counters for one UTC day."""

    date: str
    scheduled: int = 0
    delivered: int = 0
    failed: int = 0
    attempts: int = 0


def cancel(message: Message) -> Message:
    """`scheduled → cancelled`; any other state is `WrongState`."""
    _require(message, Status.SCHEDULED, "cancel")
    return message.evolve(status=Status.CANCELLED)


def cancel_for_deleted_app(message: Message) -> Message:
    """`scheduled → cancelled` because its app was deleted."""
    _require(message, Status.SCHEDULED, "cancel")
    return message.evolve(status=Status.CANCELLED, failure_reason=FailureReason.APP_DELETED)


def reschedule(message: Message, *, send_at: int | None) -> Message:
    """Change `sendAt` (and so the next attempt) while `scheduled`."""
    _require(message, Status.SCHEDULED, "change")
    if send_at is None:
        return message.evolve()
    return message.evolve(send_at=send_at, due_at=send_at, first_attempt_at=None)


def redrive(message: Message, *, send_at: int) -> Message:
    """`failed | cancelled → scheduled` with a fresh attempt budget, due at `send_at`."""
    if message.status not in (Status.FAILED, Status.CANCELLED):
        raise WrongState(f"only failed or cancelled messages can be redriven; this one is {message.status}")
    return message.evolve(
        status=Status.SCHEDULED,
        send_at=send_at,
        due_at=send_at,
        attempts_base=message.attempts,
        first_attempt_at=None,
        delivered_at=None,
        failure_reason=None,
    )


def claim(message: Message) -> Message:
    """`scheduled → delivering` (the caller checked it is due and holds the lease)."""
    _require(message, Status.SCHEDULED, "claim")
    return message.evolve(status=Status.DELIVERING)


def _require(message: Message, status: Status, verb: str) -> None:
    if message.status is not status:
        raise WrongState(f"cannot {verb} a message that is {message.status}; only {status} messages")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next (None ends the list)."""

    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None
    resume_cursor: str | None = None  # feeds only (attempts): where to poll from once caught up

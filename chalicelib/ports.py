"""Ports: the small Protocols the service layer needs. Local (SQLite) and AWS adapters implement them.

Rules every adapter keeps (the conformance suite in tests/contract checks them):
- Reads of another tenant's resource behave exactly like a missing one (None / empty).
- `MessageStore.save` writes only if the stored `gen` equals `expected_gen`, else raises
  `ConcurrentUpdate`; a `usage` delta given with a write is applied in the same atomic step.
- A `quota` given with a write that schedules deliveries (`insert_messages`, or `save` with
  `usage.scheduled`) is checked against the tenant-day's `scheduled` count in the same atomic step
  that adds to it: over it, `QuotaExceeded` and nothing is written. Every path that causes a delivery
  (create, batch, redrive) goes through it, so none gets around the quota and racers cannot both
  take its last unit.
- Lists are ordered as documented and cursors are opaque strings the same adapter made.
- `DeliveryQueue.claim*` move a message `scheduled -> delivering` at the next `gen` with a lease;
  `complete` writes a result only if the message is still at the claimed `gen` (else it is stale:
  nothing of it is written, not the attempt, not the counters); `take_back_expired` puts messages
  whose lease ran out back to `scheduled` at the next `gen`, so a late result of theirs is stale.
- `ScheduleStore.record_runs` writes each item all or nothing: its run messages (idempotent by key, as
  `insert_messages`), their `usage` within `quota`, and the schedule's new bookkeeping, only while the
  stored schedule is still at the item's `version` and `expected_next_run_at` (see `ScheduleStore`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from chalicelib.domain.errors import SchedulerError
from chalicelib.domain.model import ApiKey, App, Attempt, Message, Page, Status, Tenant, UsageDay, UsageDelta
from chalicelib.domain.recurrence import Schedule


class Clock(Protocol):
    """Wall-clock time in Unix ms (injected so tests control it)."""

    def now_ms(self) -> int:
        """Current time."""
        ...


class TenantStore(Protocol):
    """Tenants."""

    def put_tenant(self, tenant: Tenant) -> None:
        """Create or replace a tenant."""
        ...

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        """One tenant."""
        ...

    def list_tenants(self, *, cursor: str | None, limit: int) -> Page[Tenant]:
        """Tenants by id."""
        ...


class KeyStore(Protocol):
    """API keys, found by the hash of the token."""

    def put_key(self, key: ApiKey) -> None:
        """Create or replace a key (upsert by id)."""
        ...

    def create_key(self, key: ApiKey, *, max_keys: int | None) -> bool:
        """Store a new key unless its tenant has `max_keys` live (unrevoked) keys already (then False)."""
        ...

    def find_key(self, token_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not."""
        ...

    def list_keys(self, tenant_id: str) -> list[ApiKey]:
        """A tenant's keys, oldest first."""
        ...

    def revoke_key(self, tenant_id: str, key_id: str, at_ms: int) -> bool:
        """Mark a key revoked; False when the tenant has no such key."""
        ...


class AppStore(Protocol):
    """Delivery targets."""

    def put_app(self, app: App) -> None:
        """Create or replace an app."""
        ...

    def create_app(self, app: App, *, max_apps: int | None) -> bool:
        """Store a new app unless its tenant has `max_apps` apps already (then False, nothing stored)."""
        ...

    def get_app(self, tenant_id: str, app_id: str) -> App | None:
        """One app of a tenant."""
        ...

    def list_apps(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page[App]:
        """A tenant's apps by id."""
        ...

    def delete_app(self, tenant_id: str, app_id: str) -> bool:
        """Delete an app; False when the tenant has no such app."""
        ...


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to insert with its payload and, optionally, its idempotency record."""

    message: Message
    payload_json: str
    request_hash: str | None = None  # hash of the create request as sent, for idempotency


@dataclass(frozen=True, slots=True)
class Inserted:
    """What `insert_messages` did with one `NewMessage`: stored it, or found the key's earlier message."""

    message: Message
    created: bool
    request_hash: str | None = None


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """Filters of `GET /messages`; times are Unix ms, bounds inclusive."""

    app_id: str | None = None
    status: Status | None = None
    send_after: int | None = None
    send_before: int | None = None
    schedule_id: str | None = None  # only the runs of this recurring schedule


class MessageStore(Protocol):
    """Messages, their payloads and attempts."""

    def insert_messages(
        self, items: Sequence[NewMessage], usage: UsageDelta, *, idempotency_ttl_ms: int, quota: int | None = None
    ) -> list[Inserted]:
        """Store new messages in order. An item whose idempotency key the tenant used within the TTL
        is not stored; its earlier message comes back with `created=False`. `usage.scheduled` is
        counted for stored items only, against `quota` (see the module docstring)."""
        ...

    def get_message(self, tenant_id: str, message_id: str) -> Message | None:
        """One message of a tenant."""
        ...

    def get_payload(self, tenant_id: str, message_id: str) -> str | None:
        """The payload JSON text of a message."""
        ...

    def list_messages(self, tenant_id: str, query: MessageQuery, *, cursor: str | None, limit: int) -> Page[Message]:
        """Messages ordered by `sendAt`, then id."""
        ...

    def save(
        self,
        message: Message,
        *,
        expected_gen: int,
        payload_json: str | None = None,
        attempt: Attempt | None = None,
        usage: UsageDelta | None = None,
        quota: int | None = None,
    ) -> None:
        """Write a message's new state (and optionally its new payload, one attempt and counters)
        if the stored generation is still `expected_gen`; otherwise `ConcurrentUpdate`. With `quota`,
        `usage.scheduled` must fit the tenant-day's quota (see the module docstring)."""
        ...

    def list_attempts(self, tenant_id: str, message_id: str) -> list[Attempt]:
        """A message's attempts, oldest first."""
        ...

    def recent_attempts(self, tenant_id: str, *, app_id: str | None, after: str | None, limit: int) -> Page[Attempt]:
        """Attempts of all messages in the order they were recorded, after the cursor `after`."""
        ...

    def latest_attempt_cursor(self, tenant_id: str) -> str:
        """A `recent_attempts` cursor just after the tenant's newest attempt (to follow only new ones)."""
        ...

    def cancel_scheduled_of_app(self, tenant_id: str, app_id: str, *, limit: int) -> int:
        """Cancel (reason `app_deleted`, `gen` bumped) up to `limit` of the app's `scheduled` messages;
        returns how many. Callers repeat until 0."""
        ...


class UsageStore(Protocol):
    """Metering counters per tenant per UTC day."""

    def usage(self, tenant_id: str, first_day: str, last_day: str) -> list[UsageDay]:
        """Days with any count, oldest first, bounds inclusive."""
        ...


class Timer(Protocol):
    """Arms the wake-up of a message at its `due_at`. A timer carries `gen`: stale ones claim nothing."""

    def arm(self, messages: Sequence[Message]) -> None:
        """Make sure each scheduled message is attempted at (never before) its `due_at`."""
        ...

    def disarm(self, messages: Sequence[Message]) -> None:
        """The messages' previous timers are no longer needed (best effort: a stale timer is harmless)."""
        ...

    def app_deleted(self, tenant_id: str, app_id: str) -> None:
        """Stop attempts of this app that are already in flight, where the backend can."""
        ...


class Limiter(Protocol):
    """Per-tenant request rate and share of the CPU (the daily quota is counted by the message store)."""

    def check(self, tenant_id: str, plan: str, *, now_ms: int) -> None:
        """Take one request from the tenant's rate limit, or raise `Throttled`."""
        ...

    def heavy(self, tenant_id: str) -> AbstractContextManager[None]:
        """Hold a place for CPU-heavy work (a large body to parse, validate and store): where requests
        share one process, such work waits its turn, round-robin by tenant, instead of taking every core."""
        ...


# ---- delivery --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimerRef:
    """A timer's reference to one message at one generation (what a schedule or wake-up carries)."""

    tenant_id: str
    message_id: str
    gen: int


@dataclass(frozen=True, slots=True)
class Lease:
    """A message claimed for one attempt: `delivering`, at the claimed `gen`, with what the attempt needs."""

    message: Message
    payload_json: str | None  # None only if the payload is missing (the attempt must not run without it)
    app: App | None  # None: the app was deleted
    lease_until: int


@dataclass(frozen=True, slots=True)
class Refused:
    """Nothing was claimed; `current` is the message as stored (None: no such message of that tenant)."""

    current: Message | None


@dataclass(frozen=True, slots=True)
class Completion:
    """The result of a lease to write: the message's next state, its attempt (None: ended without one)
    and the counters, all or nothing, only while the message is still at `expected_gen`."""

    message: Message
    expected_gen: int
    attempt: Attempt | None
    usage: UsageDelta


@dataclass(frozen=True, slots=True)
class Admission:
    """How much a claim may take: at most `limit` messages, none of the excluded apps or tenants."""

    limit: int
    excluded_apps: Collection[str] = ()
    excluded_tenants: Collection[str] = ()


class DeliveryQueue(Protocol):
    """Due work with leases (the shape of APScheduler 4's `acquire_jobs` / `release_job`): one runner
    (`services.runner`) drives every backend's queue."""

    def claim(self, ref: TimerRef, *, now_ms: int, lease_until: int) -> Lease | Refused:
        """Claim the message a timer names: only if it is `scheduled`, at `ref.gen` and due by `now_ms`."""
        ...

    def claim_due(self, now_ms: int, admission: Admission, *, lease_until: int) -> list[Lease]:
        """Claim up to `admission.limit` messages due by `now_ms`, earliest first, skipping excluded apps
        and tenants (for backends whose store is also the timer; others may return [])."""
        ...

    def next_due(self, admission: Admission) -> int | None:
        """The earliest due time `claim_due` would claim from (None: nothing scheduled, or no due index)."""
        ...

    def complete(self, completions: Sequence[Completion]) -> list[Completion]:
        """Write results (each on its own: one stale result does not stop the others); returns the stale ones."""
        ...

    def take_back_expired(self, now_ms: int, *, limit: int) -> list[Message]:
        """Put up to `limit` messages whose lease expired by `now_ms` back to `scheduled`, due at once;
        returns them as stored now (to re-arm)."""
        ...


# ---- recurring schedules ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduleRuns:
    """One schedule's runs to record: the run messages (each with its `run_key` idempotency key) and
    the schedule's bookkeeping after them (`next_run_at`, `last_run_at`, counts; same `version`)."""

    schedule: Schedule
    expected_next_run_at: int | None
    runs: Sequence[NewMessage]
    usage: UsageDelta
    quota: int | None = None


@dataclass(frozen=True, slots=True)
class RunsRecorded:
    """What `record_runs` did with one item: `inserted` (one per run, `created=False` for a run whose
    key was already stored) or `error` (`ConcurrentUpdate`, `QuotaExceeded`) with nothing written."""

    schedule_id: str
    inserted: list[Inserted] = field(default_factory=list)
    error: SchedulerError | None = None


class ScheduleStore(Protocol):
    """Recurring schedules, and the dispatcher's claim on their runs.

    A caller's change (`update_schedule`) is a compare-and-set on `version`; the dispatcher's
    (`record_runs`) is a compare-and-set on (`version`, `next_run_at`) and keeps `version`, so a
    run never makes a caller's etag stale and a caller's change is never overwritten by a run.
    A run is created once per (schedule, run instant): its message carries the idempotency key
    `recurrence.run_key(schedule id, run instant)`, and a key already stored yields its message.
    """

    def create_schedule(self, schedule: Schedule, *, max_schedules: int | None) -> bool:
        """Store a new schedule unless its tenant has `max_schedules` already (then False, nothing stored)."""
        ...

    def get_schedule(self, tenant_id: str, schedule_id: str) -> Schedule | None:
        """One schedule of a tenant."""
        ...

    def list_schedules(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page[Schedule]:
        """A tenant's schedules by id."""
        ...

    def count_schedules(self, tenant_id: str) -> int:
        """How many schedules the tenant has (active and paused)."""
        ...

    def update_schedule(self, schedule: Schedule, *, expected_version: int) -> None:
        """Replace a schedule if the stored `version` is still `expected_version`, else `ConcurrentUpdate`
        (a missing schedule is `ConcurrentUpdate` too)."""
        ...

    def delete_schedule(self, tenant_id: str, schedule_id: str) -> bool:
        """Delete a schedule; False when the tenant has no such schedule. Its run messages stay."""
        ...

    def due_schedules(self, until_ms: int, *, limit: int) -> list[Schedule]:
        """Up to `limit` active schedules whose `next_run_at <= until_ms`, earliest first, all tenants
        (for backends whose store is also the schedule timer; others may return [])."""
        ...

    def next_run_at(self) -> int | None:
        """The earliest `next_run_at` of any active schedule (None: none, or no such index)."""
        ...

    def record_runs(self, items: Sequence[ScheduleRuns], *, idempotency_ttl_ms: int) -> list[RunsRecorded]:
        """Record each item on its own, all or nothing (see the class docstring); results in order."""
        ...


class ScheduleTimer(Protocol):
    """Makes a schedule's runs fire. Locally the schedule store is the timer and this wakes the engine;
    on AWS it keeps one native EventBridge Scheduler schedule per recurring schedule."""

    def schedule_changed(self, schedule: Schedule) -> None:
        """The schedule was created or changed (recurrence, window, pause, resume) and is stored: its runs
        fire from `next_run_at` on, none while it is paused or when `next_run_at` is None."""
        ...

    def schedule_deleted(self, schedule: Schedule) -> None:
        """The schedule was deleted: no more runs (a late one finds no schedule and creates nothing)."""
        ...

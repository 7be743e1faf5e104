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
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from chalicelib.domain.model import ApiKey, App, Attempt, Message, Page, Status, Tenant, UsageDay, UsageDelta


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

    def claim(
        self, tenant_id: str, message_id: str, *, gen: int, now_ms: int, lease_until: int, owner: str
    ) -> Message | None:
        """Take a due message for delivery: only if it is `scheduled`, still at `gen` and `due_at <= now_ms`.
        Returns the claimed (`delivering`) message, or None when there is nothing to claim."""
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

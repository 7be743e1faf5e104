"""In-memory implementations of every port in `chalicelib.ports`, for unit and functional tests.

They keep the rules of the port docstrings (tenant isolation, compare-and-set on `gen`, usage
counted in the same step as the write, idempotency within a TTL, list order and opaque cursors)
so a service test against them means what it says. All state is plain dicts behind one lock;
`snapshot()` returns a comparable picture of everything stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.cursor import decode_cursor, encode_cursor
from chalicelib.domain.errors import ConcurrentUpdate, QuotaExceeded, Throttled
from chalicelib.domain.limits import quota_exceeded
from chalicelib.domain.model import (
    ApiKey,
    App,
    Attempt,
    Message,
    Page,
    Status,
    Tenant,
    UsageDay,
    UsageDelta,
    cancel_for_deleted_app,
    claim,
)
from chalicelib.ports import Inserted, MessageQuery, NewMessage
from chalicelib.services.context import Context
from chalicelib.settings import Settings

START_MS = 1_780_000_000_000  # 2026-05-28T20:26:40Z


class SettableClock:
    """A `Clock` that moves only when told to."""

    def __init__(self, now_ms: int = START_MS) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        """Current (fake) time."""
        return self.now

    def set(self, now_ms: int) -> None:
        """Jump to `now_ms`."""
        self.now = now_ms

    def advance(self, ms: int) -> None:
        """Move forward by `ms`."""
        self.now += ms


class FakeTenantStore:
    """`TenantStore` in memory."""

    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self._lock = threading.Lock()

    def put_tenant(self, tenant: Tenant) -> None:
        """Create or replace a tenant."""
        with self._lock:
            self.tenants[tenant.id] = tenant

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        """One tenant."""
        return self.tenants.get(tenant_id)

    def list_tenants(self, *, cursor: str | None, limit: int) -> Page[Tenant]:
        """Tenants by id."""
        after = decode_cursor(cursor, str)[0] if cursor else ""
        with self._lock:
            rows = sorted((t for t in self.tenants.values() if t.id > after), key=lambda t: t.id)
        return _page(rows, limit, lambda t: encode_cursor(t.id))


class FakeKeyStore:
    """`KeyStore` in memory, found by token hash."""

    def __init__(self) -> None:
        self.keys: dict[str, ApiKey] = {}
        self._by_hash: dict[str, str] = {}
        self._lock = threading.Lock()

    def put_key(self, key: ApiKey) -> None:
        """Create or replace a key (upsert by id)."""
        with self._lock:
            previous = self.keys.get(key.id)
            if previous is not None:
                self._by_hash.pop(previous.token_hash, None)
            self.keys[key.id] = key
            self._by_hash[key.token_hash] = key.id

    def find_key(self, token_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not."""
        key_id = self._by_hash.get(token_hash)
        return None if key_id is None else self.keys.get(key_id)

    def list_keys(self, tenant_id: str) -> list[ApiKey]:
        """A tenant's keys, oldest first."""
        with self._lock:
            keys = [k for k in self.keys.values() if k.tenant_id == tenant_id]
        return sorted(keys, key=lambda k: (k.created_at, k.id))

    def revoke_key(self, tenant_id: str, key_id: str, at_ms: int) -> bool:
        """Mark a key revoked; False when the tenant has no such key."""
        with self._lock:
            key = self.keys.get(key_id)
            if key is None or key.tenant_id != tenant_id:
                return False
            if key.revoked_at is None:
                self.keys[key_id] = dataclasses.replace(key, revoked_at=at_ms)
            return True


class FakeAppStore:
    """`AppStore` in memory."""

    def __init__(self) -> None:
        self.apps: dict[tuple[str, str], App] = {}
        self._lock = threading.Lock()

    def put_app(self, app: App) -> None:
        """Create or replace an app."""
        with self._lock:
            self.apps[(app.tenant_id, app.id)] = app

    def create_app(self, app: App, *, max_apps: int | None) -> bool:
        """Store a new app unless the tenant has `max_apps` already."""
        with self._lock:
            if max_apps is not None and sum(1 for (t, _) in self.apps if t == app.tenant_id) >= max_apps:
                return False
            self.apps[(app.tenant_id, app.id)] = app
        return True

    def get_app(self, tenant_id: str, app_id: str) -> App | None:
        """One app of a tenant."""
        return self.apps.get((tenant_id, app_id))

    def list_apps(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page[App]:
        """A tenant's apps by id."""
        after = decode_cursor(cursor, str)[0] if cursor else ""
        with self._lock:
            rows = sorted((a for (t, i), a in self.apps.items() if t == tenant_id and i > after), key=lambda a: a.id)
        return _page(rows, limit, lambda a: encode_cursor(a.id))

    def delete_app(self, tenant_id: str, app_id: str) -> bool:
        """Delete an app; False when the tenant has no such app."""
        with self._lock:
            return self.apps.pop((tenant_id, app_id), None) is not None


class Counters:
    """Usage counters per (tenant, day), shared by the message store (writes) and the usage store (reads)."""

    def __init__(self) -> None:
        self.days: dict[tuple[str, str], UsageDay] = {}

    def add(self, delta: UsageDelta) -> None:
        """Apply one delta (caller holds the store lock)."""
        day = self.days.setdefault((delta.tenant_id, delta.day), UsageDay(delta.day))
        day.scheduled += delta.scheduled
        day.delivered += delta.delivered
        day.failed += delta.failed
        day.attempts += delta.attempts


@dataclass(frozen=True, slots=True)
class _IdempotencyRecord:
    message_id: str
    request_hash: str | None
    expires_at: int


@dataclass
class Lease:
    """Who holds a claimed message, until when."""

    owner: str
    until: int


class FakeMessageStore:
    """`MessageStore` in memory: CAS on `gen`, idempotency with a TTL, counters in the same step."""

    def __init__(self, counters: Counters | None = None) -> None:
        self.counters = counters or Counters()
        self.messages: dict[tuple[str, str], Message] = {}
        self.payloads: dict[tuple[str, str], str] = {}
        self.idempotency: dict[tuple[str, str], _IdempotencyRecord] = {}
        self.attempts: list[tuple[int, Attempt]] = []
        self.leases: dict[tuple[str, str], Lease] = {}
        self._seq = itertools.count(1)
        self._lock = threading.RLock()

    def insert_messages(
        self, items: Sequence[NewMessage], usage: UsageDelta, *, idempotency_ttl_ms: int, quota: int | None = None
    ) -> list[Inserted]:
        """Store new messages in order; a key used within the TTL returns its earlier message. Over the
        quota nothing is stored (the dicts are put back as they were)."""
        with self._lock:
            before = (dict(self.messages), dict(self.payloads), dict(self.idempotency))
            results = [self._insert_one(item, idempotency_ttl_ms) for item in items]
            created = sum(1 for result in results if result.created)
            delta = UsageDelta(usage.tenant_id, usage.day, scheduled=created)
            try:
                self._take_quota(delta, quota, items[0].message.created_at if items else 0)
            except QuotaExceeded:
                self.messages, self.payloads, self.idempotency = before
                raise
            if created:
                self.counters.add(delta)
            return results

    def _take_quota(self, delta: UsageDelta, quota: int | None, now_ms: int) -> None:
        day = self.counters.days.get((delta.tenant_id, delta.day))
        used = 0 if day is None else day.scheduled
        if quota is not None and delta.scheduled and used + delta.scheduled > quota:
            raise quota_exceeded(quota, used, now_ms)

    def _insert_one(self, item: NewMessage, ttl_ms: int) -> Inserted:
        message = item.message
        key = message.idempotency_key
        if key is not None:
            record = self.idempotency.get((message.tenant_id, key))
            if record is not None and record.expires_at > message.created_at:
                earlier = self.messages.get((message.tenant_id, record.message_id))
                if earlier is not None:
                    return Inserted(earlier, created=False, request_hash=record.request_hash)
            self.idempotency[(message.tenant_id, key)] = _IdempotencyRecord(
                message.id, item.request_hash, message.created_at + ttl_ms
            )
        self.messages[(message.tenant_id, message.id)] = message
        self.payloads[(message.tenant_id, message.id)] = item.payload_json
        return Inserted(message, created=True, request_hash=item.request_hash)

    def get_message(self, tenant_id: str, message_id: str) -> Message | None:
        """One message of a tenant."""
        return self.messages.get((tenant_id, message_id))

    def get_payload(self, tenant_id: str, message_id: str) -> str | None:
        """The payload JSON text of a message."""
        return self.payloads.get((tenant_id, message_id))

    def list_messages(self, tenant_id: str, query: MessageQuery, *, cursor: str | None, limit: int) -> Page[Message]:
        """Messages ordered by `sendAt`, then id."""
        start: tuple[int, str] | None = None
        if cursor:
            send_at, last_id = decode_cursor(cursor, int, str)
            start = (send_at, last_id)
        with self._lock:
            rows = [m for (t, _), m in self.messages.items() if t == tenant_id and _matches(m, query)]
        rows.sort(key=lambda m: (m.send_at, m.id))
        if start is not None:
            rows = [m for m in rows if (m.send_at, m.id) > start]
        return _page(rows, limit, lambda m: encode_cursor(m.send_at, m.id))

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
        """Compare-and-set on `gen`; payload, attempt and counters (within the quota) in the same step."""
        with self._lock:
            where = (message.tenant_id, message.id)
            stored = self.messages.get(where)
            if stored is None or stored.gen != expected_gen:
                raise ConcurrentUpdate(f"message {message.id} changed meanwhile; read it again")
            if usage is not None:
                self._take_quota(usage, quota, message.due_at)
            self.messages[where] = message
            self.leases.pop(where, None)
            if payload_json is not None:
                self.payloads[where] = payload_json
            if attempt is not None:
                self.attempts.append((next(self._seq), attempt))
            if usage is not None:
                self.counters.add(usage)

    def claim(
        self, tenant_id: str, message_id: str, *, gen: int, now_ms: int, lease_until: int, owner: str
    ) -> Message | None:
        """Take a due message: only `scheduled`, still at `gen` and due; else None."""
        with self._lock:
            stored = self.messages.get((tenant_id, message_id))
            if stored is None or stored.status is not Status.SCHEDULED or stored.gen != gen or stored.due_at > now_ms:
                return None
            claimed = claim(stored)
            self.messages[(tenant_id, message_id)] = claimed
            self.leases[(tenant_id, message_id)] = Lease(owner, lease_until)
            return claimed

    def list_attempts(self, tenant_id: str, message_id: str) -> list[Attempt]:
        """A message's attempts, oldest first."""
        with self._lock:
            rows = [a for _, a in self.attempts if a.tenant_id == tenant_id and a.message_id == message_id]
        return sorted(rows, key=lambda a: a.n)

    def recent_attempts(self, tenant_id: str, *, app_id: str | None, after: str | None, limit: int) -> Page[Attempt]:
        """Attempts in recording order after the cursor: a full page carries `next_cursor`; `resume_cursor`
        always marks the position, so a follower can poll from it once caught up."""
        seq = decode_cursor(after, int)[0] if after else 0
        with self._lock:
            rows = [
                (n, a)
                for n, a in self.attempts
                if n > seq and a.tenant_id == tenant_id and (app_id is None or a.app_id == app_id)
            ][:limit]
        position = encode_cursor(rows[-1][0] if rows else seq)
        return Page([a for _, a in rows], position if len(rows) == limit else None, resume_cursor=position)

    def latest_attempt_cursor(self, tenant_id: str) -> str:
        """The position after the tenant's newest attempt."""
        with self._lock:
            seqs = [n for n, a in self.attempts if a.tenant_id == tenant_id]
        return encode_cursor(max(seqs, default=0))

    def cancel_scheduled_of_app(self, tenant_id: str, app_id: str, *, limit: int) -> int:
        """Cancel up to `limit` of the app's scheduled messages (reason `app_deleted`)."""
        with self._lock:
            keys = [
                key
                for key, m in self.messages.items()
                if key[0] == tenant_id and m.app_id == app_id and m.status is Status.SCHEDULED
            ][:limit]
            for key in keys:
                self.messages[key] = cancel_for_deleted_app(self.messages[key])
        return len(keys)


class FakeUsageStore:
    """`UsageStore` reading the counters the message store writes."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters

    def usage(self, tenant_id: str, first_day: str, last_day: str) -> list[UsageDay]:
        """Days with any count, oldest first, bounds inclusive."""
        days = [
            dataclasses.replace(day)
            for (tenant, date), day in self.counters.days.items()
            if tenant == tenant_id and first_day <= date <= last_day
        ]
        return sorted(days, key=lambda d: d.date)


@dataclass
class RecordingTimer:
    """A `Timer` that records what it was asked to do."""

    armed: list[Message] = field(default_factory=list)
    disarmed: list[Message] = field(default_factory=list)
    deleted_apps: list[tuple[str, str]] = field(default_factory=list)

    def arm(self, messages: Sequence[Message]) -> None:
        """Record the messages to wake."""
        self.armed.extend(messages)

    def disarm(self, messages: Sequence[Message]) -> None:
        """Record the messages whose timers are stale."""
        self.disarmed.extend(messages)

    def app_deleted(self, tenant_id: str, app_id: str) -> None:
        """Record the deleted app."""
        self.deleted_apps.append((tenant_id, app_id))


@dataclass
class FakeLimiter:
    """A `Limiter` that lets everything through until told to throttle; records every check."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    heavy_calls: list[str] = field(default_factory=list)
    throttle_after_s: int | None = None
    quota_exceeded: bool = False

    def check(self, tenant_id: str, plan: str, *, now_ms: int) -> None:
        """Take one request, or raise when told to."""
        self.calls.append((tenant_id, plan))
        if self.quota_exceeded:
            raise QuotaExceeded("daily message quota used up", retry_after_s=3600)
        if self.throttle_after_s is not None:
            raise Throttled("too many requests", retry_after_s=self.throttle_after_s)

    def heavy(self, tenant_id: str) -> contextlib.AbstractContextManager[None]:
        """Record the heavy request; nothing to wait for."""
        self.heavy_calls.append(tenant_id)
        return contextlib.nullcontext()

    def throttle(self, retry_after_s: int = 2, *, quota: bool = False) -> None:
        """Refuse every request from now on (rate, or quota when `quota`)."""
        self.throttle_after_s = retry_after_s
        self.quota_exceeded = quota

    def release(self) -> None:
        """Let requests through again."""
        self.throttle_after_s = None
        self.quota_exceeded = False


def make_context(**overrides: Any) -> Context:
    """A `Context` of fresh fakes; any port, `clock`, `settings` or `jitter` can be overridden."""
    counters = Counters()
    messages = overrides.pop("messages", None) or FakeMessageStore(counters)
    parts: dict[str, Any] = {
        "tenants": FakeTenantStore(),
        "keys": FakeKeyStore(),
        "apps": FakeAppStore(),
        "messages": messages,
        "usage": FakeUsageStore(getattr(messages, "counters", counters)),
        "timer": RecordingTimer(),
        "limiter": FakeLimiter(),
        "clock": SettableClock(),
        "settings": Settings(),
        "jitter": lambda: 0.5,
    }
    unknown = set(overrides) - set(parts)
    if unknown:
        raise TypeError(f"unknown context parts: {sorted(unknown)}")
    parts.update(overrides)
    return Context(**parts)


def snapshot(ctx: Context) -> dict[str, Any]:
    """Everything the fake stores hold, as comparable values (to assert that bad input stored nothing)."""
    messages: Any = ctx.messages
    return {
        "tenants": dict(ctx.tenants.tenants),  # type: ignore[attr-defined]
        "keys": dict(ctx.keys.keys),  # type: ignore[attr-defined]
        "apps": dict(ctx.apps.apps),  # type: ignore[attr-defined]
        "messages": dict(messages.messages),
        "payloads": dict(messages.payloads),
        "idempotency": dict(messages.idempotency),
        "attempts": list(messages.attempts),
        "usage": {k: dataclasses.replace(v) for k, v in messages.counters.days.items()},
    }


def _matches(message: Message, query: MessageQuery) -> bool:
    return (
        (query.app_id is None or message.app_id == query.app_id)
        and (query.status is None or message.status is query.status)
        and (query.send_after is None or message.send_at >= query.send_after)
        and (query.send_before is None or message.send_at <= query.send_before)
    )


def _page(rows: list[Any], limit: int, cursor_of: Any) -> Page[Any]:
    items = rows[:limit]
    return Page(items, cursor_of(items[-1]) if len(rows) > limit else None)

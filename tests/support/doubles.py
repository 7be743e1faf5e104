"""Test doubles around the real adapters (there are no in-memory stores: tests run the SQLite store on a
temporary directory, and the conformance suite runs the same tests on DynamoDB under moto).

- `SettableClock`: the one clock of the tests; it moves only when told to.
- `RecordingTimer`: a spy that forwards to the real timer, recording what it was asked.
- `ScriptedLimiter`: lets every request through until a test says otherwise, recording each check (the
  real limiters have their own tests: tests/security/test_limits.py, tests/aws).
- `observed(ctx)`: a context with those spies in place; `snapshot(ctx)`: everything the SQLite store
  holds, to assert that bad input stored nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import QuotaExceeded, Throttled
from chalicelib.domain.model import Message
from chalicelib.ports import Timer
from chalicelib.services.context import Context

START_MS = 1_780_000_000_000  # 2026-05-28T20:26:40Z


class SettableClock:
    """A `Clock` that moves only when told to."""

    def __init__(self, now_ms: int = START_MS) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        """Current (test) time."""
        return self.now

    def set(self, now_ms: int) -> None:
        """Jump to `now_ms`."""
        self.now = now_ms

    def advance(self, ms: int) -> None:
        """Move forward by `ms`."""
        self.now += ms


@dataclass
class RecordingTimer:
    """The real `Timer`, recording what it was asked to do."""

    inner: Timer
    armed: list[Message] = field(default_factory=list)
    disarmed: list[Message] = field(default_factory=list)
    deleted_apps: list[tuple[str, str]] = field(default_factory=list)

    def arm(self, messages: Sequence[Message]) -> None:
        """Record, then arm."""
        self.armed.extend(messages)
        self.inner.arm(messages)

    def disarm(self, messages: Sequence[Message]) -> None:
        """Record, then disarm."""
        self.disarmed.extend(messages)
        self.inner.disarm(messages)

    def app_deleted(self, tenant_id: str, app_id: str) -> None:
        """Record, then pass on."""
        self.deleted_apps.append((tenant_id, app_id))
        self.inner.app_deleted(tenant_id, app_id)


@dataclass
class ScriptedLimiter:
    """A `Limiter` that lets everything through until told to throttle; records every check."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    heavy_calls: list[str] = field(default_factory=list)
    throttle_after_s: int | None = None
    quota_exceeded: bool = False

    def check(self, tenant_id: str, plan: str, *, now_ms: int) -> None:
        """Take one request (recorded), or raise when told to."""
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


def observed(ctx: Context) -> Context:
    """`ctx` with spies on its timer and limiter and a fixed jitter (retry times are exact)."""
    return dataclasses.replace(ctx, timer=RecordingTimer(ctx.timer), limiter=ScriptedLimiter(), jitter=lambda: 0.5)


def snapshot(ctx: Context) -> dict[str, Any]:
    """Every row of the SQLite store behind `ctx`, table by table (to assert that bad input stored nothing)."""
    db: Any = ctx.messages.db  # type: ignore[attr-defined]
    with db.read() as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: sorted(map(tuple, conn.execute(f"SELECT * FROM {table}")), key=repr) for table in sorted(tables)}

"""Usage: dense days, ranges, and the counters that scheduling and delivery write."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.model import Principal, Scope, UsageDay
from chalicelib.domain.schemas import AppCreate
from chalicelib.domain.times import day_of
from chalicelib.services import apps, messages, usage
from chalicelib.services.context import Context
from tests.conftest import deliver
from tests.fakes import SettableClock

DAY_MS = 86_400_000
ALICE = Principal("ten_alice", "pro", frozenset({Scope.READ, Scope.SEND, Scope.ADMIN}))


def test_default_is_the_last_30_days_dense(ctx: Context, clock: SettableClock) -> None:
    days = usage.usage(ctx, ALICE, first=None, last=None)
    assert len(days) == 30
    assert days[-1] == UsageDay(day_of(clock.now))
    assert days[0].date == day_of(clock.now - 29 * DAY_MS)


def test_counts_of_scheduling_and_delivery(ctx: Context, clock: SettableClock) -> None:
    app_id = apps.create_app(ctx, ALICE, AppCreate(name="a", url="https://example.com/")).id
    outcomes = messages.schedule(ctx, ALICE, [{"appId": app_id, "payload": n, "delaySeconds": 0} for n in range(4)])
    ids = [o.message.id for o in outcomes if not isinstance(o, Exception)]
    today = day_of(clock.now)
    clock.advance(DAY_MS)
    deliver(ctx, ALICE.tenant_id, ids[0], 200)
    deliver(ctx, ALICE.tenant_id, ids[1], 410)
    deliver(ctx, ALICE.tenant_id, ids[2], 500)
    tomorrow = day_of(clock.now)
    days = usage.usage(ctx, ALICE, first=today, last=tomorrow)
    assert days == [UsageDay(today, scheduled=4), UsageDay(tomorrow, delivered=1, failed=1, attempts=3)]
    other = Principal("ten_other", "pro", ALICE.scopes)
    assert usage.usage(ctx, other, first=today, last=tomorrow) == [UsageDay(today), UsageDay(tomorrow)]


@pytest.mark.parametrize(
    ("first", "last"),
    [("2026-05-02", "2026-05-01"), ("2025-01-01", "2026-05-01"), ("20260501", None), (None, "2026-5-1")],
)
def test_bad_ranges(ctx: Context, first: str | None, last: str | None) -> None:
    with pytest.raises(InvalidInput):
        usage.usage(ctx, ALICE, first=first, last=last)


def test_a_366_day_range_is_allowed(ctx: Context) -> None:
    assert len(usage.usage(ctx, ALICE, first="2025-01-01", last="2026-01-01")) == 366

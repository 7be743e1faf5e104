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
from tests.support.doubles import SettableClock

DAY_MS = 86_400_000
ALICE = Principal("ten_alice", "pro", frozenset({Scope.READ, Scope.SEND, Scope.ADMIN}))


@pytest.fixture
def app_id(ctx: Context) -> str:
    return apps.create_app(ctx, ALICE, AppCreate(name="a", url="https://example.com/")).id


def test_default_is_the_days_with_activity_in_the_last_30(ctx: Context, clock: SettableClock, app_id: str) -> None:
    quiet = usage.usage(ctx, ALICE, first=None, last=None)
    assert quiet.days == []
    assert (quiet.first_day, quiet.last_day) == (day_of(clock.now - 29 * DAY_MS), day_of(clock.now))
    assert quiet.plan == ctx.settings.plan("pro")
    messages.schedule(ctx, ALICE, [{"appId": app_id, "payload": 1, "delaySeconds": 0}])
    clock.advance(3 * DAY_MS)
    assert usage.usage(ctx, ALICE, first=None, last=None).days == [UsageDay(day_of(clock.now - 3 * DAY_MS), 1)]
    clock.advance(27 * DAY_MS)
    assert usage.usage(ctx, ALICE, first=None, last=None).days == []  # out of the 30 days


def test_an_explicit_range_is_dense(ctx: Context, clock: SettableClock) -> None:
    days = usage.usage(ctx, ALICE, first=day_of(clock.now - 29 * DAY_MS), last=None).days
    assert len(days) == 30
    assert days[-1] == UsageDay(day_of(clock.now))


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
    days = usage.usage(ctx, ALICE, first=today, last=tomorrow).days
    assert days == [UsageDay(today, scheduled=4), UsageDay(tomorrow, delivered=1, failed=1, attempts=3)]
    other = Principal("ten_other", "pro", ALICE.scopes)
    assert usage.usage(ctx, other, first=today, last=tomorrow).days == [UsageDay(today), UsageDay(tomorrow)]


@pytest.mark.parametrize(
    ("first", "last"),
    [("2026-05-02", "2026-05-01"), ("2025-01-01", "2026-05-01"), ("20260501", None), (None, "2026-5-1")],
)
def test_bad_ranges(ctx: Context, first: str | None, last: str | None) -> None:
    with pytest.raises(InvalidInput):
        usage.usage(ctx, ALICE, first=first, last=last)


def test_a_366_day_range_is_allowed(ctx: Context) -> None:
    assert len(usage.usage(ctx, ALICE, first="2025-01-01", last="2026-01-01").days) == 366

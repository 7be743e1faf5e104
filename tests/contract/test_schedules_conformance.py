"""Recurring schedules over every adapter set: CRUD with etags, pause/resume, runs as messages created
once per (schedule, run time), missedRuns after downtime on an injected clock, quota and limits.

Both adapter sets have a `ScheduleStore` (one without, `ctx.schedules is None`, would skip these). Tests
that drive `dispatch` need the store's due index (`due_schedules`; on DynamoDB the sparse `by-due` GSI,
which the AWS repair pass uses); `fire` is the path of a backend whose own scheduler fires each run
(EventBridge Scheduler), and both must give the same runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chalicelib.domain.errors import InvalidInput, NotFound, PlanLimit, PreconditionRequired, StaleEtag
from chalicelib.domain.model import Plan, Principal, Status
from chalicelib.domain.recurrence import ScheduleState, run_key
from chalicelib.domain.schemas import AppCreate, TenantCreate
from chalicelib.domain.times import parse_instant
from chalicelib.ports import MessageQuery
from chalicelib.services import accounts, apps, messages, schedules
from chalicelib.services.context import Context
from tests.support.doubles import SettableClock

MINUTE = 60_000


@pytest.fixture
def sctx(ctx: Context) -> Context:
    if ctx.schedules is None:
        pytest.skip("this adapter set has no ScheduleStore yet")
    return ctx


def at(text: str) -> int:
    return parse_instant(text, field="t")


def tenant(ctx: Context, name: str = "acme", plan: str = "unlimited") -> Principal:
    _, token = accounts.create_tenant(ctx, TenantCreate(name=name, plan=plan))
    return accounts.authenticate(ctx, token)


def app_of(ctx: Context, who: Principal) -> str:
    return apps.create_app(ctx, who, AppCreate(name="hooks", url="https://example.com/hook")).id


def create(ctx: Context, who: Principal, app_id: str, **fields: Any) -> Any:
    return schedules.create(ctx, who, {"appId": app_id, "payload": {"job": "report"}, **fields})


def with_plan(ctx: Context, **limits: Any) -> Context:
    """The context with the `unlimited` plan's limits replaced (every backend has that plan deployed,
    with a usage plan on AWS, so a tenant can be made on it)."""
    plans = {**ctx.settings.plans, "unlimited": Plan("unlimited", None, None, **limits)}
    return dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, plans=plans))


def runs_of(ctx: Context, who: Principal, schedule_id: str) -> list[Any]:
    query = MessageQuery(schedule_id=schedule_id)
    return messages.list_messages(ctx, who, query, cursor=None, limit=500).items


def test_create_get_list_and_delete(sctx: Context, clock: SettableClock) -> None:
    who = tenant(sctx)
    app_id = app_of(sctx, who)
    clock.set(at("2026-12-04T08:00:00Z"))
    made = create(sctx, who, app_id, cron="0 9 * * MON-FRI", timezone="Europe/Berlin")
    assert made.next_run_at == at("2026-12-07T08:00:00Z")  # 2026-12-04 is a Friday past 09:00 Berlin
    assert schedules.get(sctx, who, made.id) == made
    other = create(sctx, who, app_id, every="1h")
    page = schedules.list_schedules(sctx, who, cursor=None, limit=1)
    assert [s.id for s in page.items] == [min(made.id, other.id)] and page.next_cursor
    rest = schedules.list_schedules(sctx, who, cursor=page.next_cursor, limit=10)
    assert [s.id for s in rest.items] == [max(made.id, other.id)] and rest.next_cursor is None
    assert schedules.count(sctx, who) == 2
    schedules.delete(sctx, who, made.id)
    with pytest.raises(NotFound):
        schedules.get(sctx, who, made.id)
    with pytest.raises(NotFound):
        schedules.delete(sctx, who, made.id)


def test_another_tenants_schedule_is_not_found(sctx: Context) -> None:
    alice, bob = tenant(sctx, "alice"), tenant(sctx, "bob")
    made = create(sctx, alice, app_of(sctx, alice), every="1h")
    for call in (schedules.get, schedules.pause, schedules.resume, schedules.delete):
        with pytest.raises(NotFound):
            call(sctx, bob, made.id)
    with pytest.raises(NotFound):
        schedules.update(sctx, bob, made.id, {"every": "2h"}, "*")
    assert schedules.list_schedules(sctx, bob, cursor=None, limit=10).items == []
    with pytest.raises(NotFound):  # nor can a schedule name another tenant's app
        create(sctx, bob, made.app_id, every="1h")


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"cron": "0 9 * * *", "every": "1h"},
        {"cron": "0 9 * *"},
        {"cron": "0 25 * * *"},
        {"every": "0s"},
        {"every": "soon"},
        {"every": "1h", "timezone": "Mars/Olympus"},
        {"every": "1h", "startAt": "2026-12-05T00:00:00Z", "endAt": "2026-12-04T00:00:00Z"},
        {"every": "1h", "missedRuns": "sometimes"},
        {"every": "1h", "startAt": "tomorrow"},
    ],
)
def test_invalid_schedules_are_refused_and_store_nothing(sctx: Context, fields: dict[str, Any]) -> None:
    who = tenant(sctx)
    app_id = app_of(sctx, who)
    with pytest.raises(InvalidInput):
        create(sctx, who, app_id, **fields)
    assert schedules.count(sctx, who) == 0


def test_plan_limits_count_and_interval(sctx: Context) -> None:
    tight = with_plan(sctx, daily_quota=None, max_schedules=2, min_interval_s=300)
    who = tenant(tight)
    app_id = app_of(tight, who)
    with pytest.raises(PlanLimit):
        create(tight, who, app_id, cron="* * * * *")
    with pytest.raises(PlanLimit):
        create(tight, who, app_id, every="1m")
    create(tight, who, app_id, every="5m")
    create(tight, who, app_id, cron="*/5 * * * *")
    with pytest.raises(PlanLimit):
        create(tight, who, app_id, every="1h")
    assert schedules.count(tight, who) == 2


def test_update_needs_the_current_etag(sctx: Context) -> None:
    who = tenant(sctx)
    made = create(sctx, who, app_of(sctx, who), every="1h")
    with pytest.raises(PreconditionRequired):
        schedules.update(sctx, who, made.id, {"every": "2h"}, None)
    changed = schedules.update(sctx, who, made.id, {"every": "2h", "payload": [1]}, made.etag)
    assert (changed.every_ms, changed.version, schedules.payload(changed)) == (7_200_000, made.version + 1, [1])
    with pytest.raises(StaleEtag) as stale:  # the old etag: 409 etag_mismatch
        schedules.update(sctx, who, made.id, {"every": "3h"}, made.etag)
    assert stale.value.code == "etag_mismatch"
    switched = schedules.update(sctx, who, made.id, {"cron": "0 * * * *"}, "*")
    assert (switched.cron, switched.every_ms) == ("0 * * * *", None)
    assert schedules.get(sctx, who, made.id) == switched


def test_runs_are_messages_created_once_per_run_time(sctx: Context, clock: SettableClock) -> None:
    who = tenant(sctx)
    app_id = app_of(sctx, who)
    clock.set(at("2026-12-04T09:59:00Z"))
    made = create(sctx, who, app_id, cron="0 * * * *")
    run_at = at("2026-12-04T10:00:00Z")
    first = schedules.fire(sctx, who.tenant_id, made.id, run_at)
    again = schedules.fire(sctx, who.tenant_id, made.id, run_at)  # a repeated firing, or a retry after a crash
    assert first is not None and first.created and again is not None and not again.created
    assert again.message.id == first.message.id
    [run] = runs_of(sctx, who, made.id)
    assert (run.schedule_id, run.send_at, run.status, run.idempotency_key) == (
        made.id,
        run_at,
        Status.SCHEDULED,
        run_key(made.id, run_at),
    )
    assert messages.get_payload(sctx, who, run.id) == {"job": "report"}
    assert schedules.get(sctx, who, made.id).last_run_at == run_at


def test_dispatch_creates_runs_ahead_due_at_their_time(sctx: Context, clock: SettableClock) -> None:
    who = tenant(sctx)
    app_id = app_of(sctx, who)
    clock.set(at("2026-12-04T09:58:30Z"))
    made = create(sctx, who, app_id, cron="* * * * *")
    assert schedules.next_wake(sctx) == at("2026-12-04T09:59:00Z") - schedules.LOOKAHEAD_MS
    assert schedules.dispatch(sctx, clock.now_ms()).created == 0  # not near yet
    clock.set(at("2026-12-04T09:58:55Z"))
    assert schedules.dispatch(sctx, clock.now_ms()).created == 1
    assert schedules.dispatch(sctx, clock.now_ms()).created == 0  # advanced in the same step
    [run] = runs_of(sctx, who, made.id)
    assert run.send_at == run.due_at == at("2026-12-04T09:59:00Z")
    assert schedules.get(sctx, who, made.id).next_run_at == at("2026-12-04T10:00:00Z")
    # a run counts as a message in the tenant's metering
    assert sum(day.scheduled for day in sctx.usage.usage(who.tenant_id, "2026-12-04", "2026-12-04")) == 1


def test_pause_cancels_created_runs_and_resume_does_not_catch_up(sctx: Context, clock: SettableClock) -> None:
    who = tenant(sctx)
    clock.set(at("2026-12-04T09:30:00Z"))
    made = create(sctx, who, app_of(sctx, who), cron="0 * * * *", missedRuns="all")
    clock.set(at("2026-12-04T09:59:55Z"))
    schedules.dispatch(sctx, clock.now_ms())
    paused = schedules.pause(sctx, who, made.id)
    assert (paused.state, paused.next_run_at) == (ScheduleState.PAUSED, None)
    assert [run.status for run in runs_of(sctx, who, made.id)] == [Status.CANCELLED]
    clock.set(at("2026-12-04T13:30:00Z"))
    assert schedules.dispatch(sctx, clock.now_ms()).created == 0
    resumed = schedules.resume(sctx, who, made.id)
    assert (resumed.state, resumed.next_run_at) == (ScheduleState.ACTIVE, at("2026-12-04T14:00:00Z"))
    schedules.dispatch(sctx, clock.now_ms())
    assert len(runs_of(sctx, who, made.id)) == 1  # paused hours are not downtime: nothing caught up
    assert schedules.pause(sctx, who, made.id).version == schedules.pause(sctx, who, made.id).version


@pytest.mark.parametrize(("missed", "expected_runs", "skipped"), [("skip", 0, 3), ("once", 1, 2), ("all", 3, 0)])
def test_missed_runs_after_downtime(
    sctx: Context, clock: SettableClock, missed: str, expected_runs: int, skipped: int
) -> None:
    who = tenant(sctx)
    clock.set(at("2026-12-04T09:30:00Z"))
    made = create(sctx, who, app_of(sctx, who), cron="0 * * * *", missedRuns=missed)
    clock.set(at("2026-12-04T12:30:00Z"))  # down through the runs of 10:00, 11:00 and 12:00
    schedules.dispatch(sctx, clock.now_ms())
    runs = runs_of(sctx, who, made.id)
    assert len(runs) == expected_runs
    assert all(run.send_at == clock.now_ms() for run in runs)  # caught up now
    keys = sorted(run.idempotency_key for run in runs)
    hours = [at(f"2026-12-04T{h}:00:00Z") for h in (10, 11, 12)]
    assert keys == sorted(run_key(made.id, h) for h in hours[len(hours) - expected_runs :])
    after = schedules.get(sctx, who, made.id)
    assert (after.skipped_count, after.next_run_at, after.last_run_at) == (
        skipped,
        at("2026-12-04T13:00:00Z"),
        hours[-1],
    )


def test_missed_all_is_bounded(sctx: Context, clock: SettableClock) -> None:
    who = tenant(sctx)
    clock.set(at("2026-12-04T00:00:30Z"))
    made = create(sctx, who, app_of(sctx, who), cron="* * * * *", missedRuns="all")
    clock.set(at("2026-12-04T03:00:30Z"))  # 00:01 to 02:59 missed: 179 runs
    schedules.dispatch(sctx, clock.now_ms())
    runs = runs_of(sctx, who, made.id)
    assert len(runs) == 100 + 1  # the latest 100 missed, and 03:00 which is within the grace minute
    assert schedules.get(sctx, who, made.id).skipped_count == 79


def test_a_run_over_the_daily_quota_is_skipped(sctx: Context, clock: SettableClock) -> None:
    tiny = with_plan(sctx, daily_quota=1)
    who = tenant(tiny)
    clock.set(at("2026-12-04T09:00:30Z"))
    made = create(tiny, who, app_of(tiny, who), cron="* * * * *")
    for minute in range(1, 4):
        clock.set(at(f"2026-12-04T09:0{minute}:00Z"))
        schedules.dispatch(tiny, clock.now_ms())
    assert len(runs_of(tiny, who, made.id)) == 1
    after = schedules.get(tiny, who, made.id)
    assert after.skipped_count == 2 and after.next_run_at == at("2026-12-04T09:04:00Z")


def test_a_change_keeps_runs_already_created_and_never_repeats_one(sctx: Context, clock: SettableClock) -> None:
    who = tenant(sctx)
    clock.set(at("2026-12-04T09:30:00Z"))
    made = create(sctx, who, app_of(sctx, who), cron="0 * * * *")
    clock.set(at("2026-12-04T09:59:55Z"))
    schedules.dispatch(sctx, clock.now_ms())
    changed = schedules.update(sctx, who, made.id, {"payload": {"v": 2}}, made.etag)
    assert changed.next_run_at == at("2026-12-04T11:00:00Z")  # 10:00 exists already
    clock.set(at("2026-12-04T10:59:55Z"))
    schedules.dispatch(sctx, clock.now_ms())
    runs = runs_of(sctx, who, made.id)
    assert [messages.get_payload(sctx, who, run.id) for run in runs] == [{"job": "report"}, {"v": 2}]


def test_fire_and_dispatch_agree_on_the_same_run(sctx: Context, clock: SettableClock) -> None:
    who = tenant(sctx)
    clock.set(at("2026-12-04T09:30:00Z"))
    made = create(sctx, who, app_of(sctx, who), cron="0 * * * *")
    clock.set(at("2026-12-04T09:59:55Z"))
    schedules.dispatch(sctx, clock.now_ms())
    fired = schedules.fire(sctx, who.tenant_id, made.id, at("2026-12-04T10:00:00Z"))
    assert fired is not None and not fired.created
    assert len(runs_of(sctx, who, made.id)) == 1


def test_runs_stop_at_end_at(sctx: Context, clock: SettableClock) -> None:
    who = tenant(sctx)
    clock.set(at("2026-12-04T09:00:30Z"))
    made = create(sctx, who, app_of(sctx, who), every="1m", endAt="2026-12-04T09:03:00Z")
    for second in range(0, 300, 5):
        clock.set(at("2026-12-04T09:00:30Z") + second * 1000)
        schedules.dispatch(sctx, clock.now_ms())
    assert [run.send_at for run in runs_of(sctx, who, made.id)] == [
        at("2026-12-04T09:01:30Z"),
        at("2026-12-04T09:02:30Z"),
    ]
    assert schedules.get(sctx, who, made.id).next_run_at is None
    assert schedules.fire(sctx, who.tenant_id, made.id, at("2026-12-04T09:03:30Z")) is None


def _run_times_stepping(ctx: Context, clock: SettableClock, who: Principal, schedule_id: str, until: int) -> list[int]:
    while clock.now_ms() < until:
        clock.advance(5 * MINUTE)
        schedules.dispatch(ctx, clock.now_ms())
    return sorted(run.send_at for run in runs_of(ctx, who, schedule_id))


def test_dispatch_across_berlins_spring_gap(sctx: Context, clock: SettableClock) -> None:
    who = tenant(sctx)
    clock.set(at("2026-03-27T12:00:00Z"))
    made = create(sctx, who, app_of(sctx, who), cron="30 2 * * *", timezone="Europe/Berlin")
    found = _run_times_stepping(sctx, clock, who, made.id, at("2026-03-30T12:00:00Z"))
    assert found == [at("2026-03-28T01:30:00Z"), at("2026-03-29T01:00:00Z"), at("2026-03-30T00:30:00Z")]


def test_dispatch_across_new_yorks_autumn_repeat(sctx: Context, clock: SettableClock) -> None:
    who = tenant(sctx)
    clock.set(at("2026-11-01T04:50:00Z"))  # 00:50 EDT
    made = create(sctx, who, app_of(sctx, who), cron="*/30 * * * *", timezone="America/New_York")
    found = _run_times_stepping(sctx, clock, who, made.id, at("2026-11-01T08:10:00Z"))
    # 01:00 and 01:30 EDT, then 02:00 EST onwards: the repeated 01:00 and 01:30 EST do not run again
    expected = ["05:00", "05:30", "07:00", "07:30", "08:00"]
    assert found == [at(f"2026-11-01T{hm}:00Z") for hm in expected]

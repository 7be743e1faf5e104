"""Which recurring schedules EventBridge Scheduler can run natively, the exact expression, and why the
others are chained; each produced expression passes AWS's published cron/rate rules (tests/aws/rules.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.aws import recurrence
from chalicelib.domain.recurrence import MissedRuns, Recurrence, Schedule, ScheduleState, iter_runs
from chalicelib.domain.times import parse_instant
from tests.aws.rules import recurring_expression_problem

NOW = parse_instant("2026-12-04T10:00:00Z", field="t")
MINUTE = 60_000


@pytest.mark.parametrize(
    ("cron", "timezone", "expression"),
    [
        ("0 9 * * MON-FRI", "Europe/Berlin", "cron(59 8 ? * 2-6 *)"),
        ("*/15 * * * *", "UTC", "cron(14,29,44,59 * * * ? *)"),
        ("0 0 * * *", "UTC", "cron(59 23 * * ? *)"),
        ("15 3 * * *", "Europe/Berlin", "cron(14 3 * * ? *)"),  # clear of both transitions
        ("30 12 * * *", "America/New_York", "cron(29 12 * * ? *)"),
        ("0 9 L * *", "UTC", "cron(59 8 L * ? *)"),
        ("0 9 * * 5L", "UTC", "cron(59 8 ? * 6L *)"),  # last Friday: cron 5 = EventBridge 6
        ("0 9 * * MON#2", "UTC", "cron(59 8 ? * 2#2 *)"),
        ("0 12 * * 0,6", "UTC", "cron(59 11 ? * 1,7 *)"),  # SUN = 1, SAT = 7
        ("0 12 * * 7", "UTC", "cron(59 11 ? * 1 *)"),  # cron's 7 is Sunday too
        ("0 9 1,15 JAN,JUL *", "UTC", "cron(59 8 1,15 1,7 ? *)"),
        ("0 9 */2 * *", "UTC", "cron(59 8 1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31 * ? *)"),
        ("5 * * * *", "Asia/Kolkata", "cron(4 * * * ? *)"),  # no DST at all
    ],
)
def test_native_cron_fires_a_minute_before_each_run(cron: str, timezone: str, expression: str) -> None:
    plan = recurrence.native_cron(cron, timezone, NOW)
    assert plan == recurrence.Native(expression, timezone, recurrence.AHEAD_MS)
    assert recurring_expression_problem(expression) is None


@pytest.mark.parametrize(
    ("cron", "timezone", "why"),
    [
        ("0 9 1 * MON", "UTC", "both day-of-month and day-of-week"),  # cron's OR rule
        ("0 9 */2 * MON", "UTC", "both day-of-month and day-of-week"),
        ("0 9 1,L * *", "UTC", "L, W or #"),
        ("0 9 LW * *", "UTC", "L, W or #"),
        ("0 9 * * MON#1,FRI", "UTC", "L, W or #"),
        ("0,30 9-17 * * *", "UTC", "a minute early"),
        ("0 0 * * MON", "UTC", "a minute early"),  # midnight of a weekday: the day before at 23:59
        ("*/10 * 1 * *", "UTC", "a minute early"),
        ("30 2 * * *", "Europe/Berlin", "daylight-saving"),  # 02:30 does not exist on the last Sunday of March
        ("30 2 * * *", "America/New_York", "daylight-saving"),
        ("0 * * * *", "Europe/Berlin", "daylight-saving"),  # 02:00 happens twice in October
        ("*/30 * * * *", "America/New_York", "daylight-saving"),
        ("0 3 * * *", "Europe/Berlin", "daylight-saving"),  # the shifted 02:59 is in the gap
    ],
)
def test_chained_when_eventbridge_cannot_fire_exactly(cron: str, timezone: str, why: str) -> None:
    plan = recurrence.native_cron(cron, timezone, NOW)
    assert isinstance(plan, recurrence.NotNative) and why in plan.reason


@pytest.mark.parametrize(
    ("every_ms", "expression"),
    [
        (MINUTE, "rate(1 minute)"),
        (15 * MINUTE, "rate(15 minutes)"),
        (90 * MINUTE, "rate(90 minutes)"),
        (3_600_000, "rate(1 hour)"),
        (7_200_000, "rate(2 hours)"),
        (86_400_000, "rate(1 day)"),
        (3 * 86_400_000, "rate(3 days)"),
    ],
)
def test_every_whole_minutes_is_a_rate_started_a_minute_before_the_runs_minute(every_ms: int, expression: str) -> None:
    next_run = NOW + every_ms + 12_345  # runs 12.345 s into their minute
    plan = recurrence.plan(Recurrence("UTC", every_ms=every_ms, anchor_ms=next_run), next_run, NOW)
    assert isinstance(plan, recurrence.Native) and plan.expression == expression
    assert plan.start_ms is not None and plan.start_ms % MINUTE == 0
    assert plan.start_ms + plan.ahead_ms == next_run  # the firing at StartDate stands for the first run
    assert recurring_expression_problem(expression) is None


@pytest.mark.parametrize("every_ms", [30_000, 90_000, MINUTE + 1])
def test_every_not_whole_minutes_is_chained(every_ms: int) -> None:
    plan = recurrence.plan(Recurrence("UTC", every_ms=every_ms, anchor_ms=NOW + every_ms), NOW + every_ms, NOW)
    assert isinstance(plan, recurrence.NotNative) and "whole number of minutes" in plan.reason


@pytest.mark.parametrize(
    ("timezone", "windows"),
    [
        ("Europe/Berlin", [("2027-03-28T02:00", "2027-03-28T03:00"), ("2027-10-31T02:00", "2027-10-31T03:00")]),
        ("America/New_York", [("2027-03-14T02:00", "2027-03-14T03:00"), ("2027-11-07T01:00", "2027-11-07T02:00")]),
        ("UTC", []),
    ],
)
def test_the_zones_gaps_and_repeated_hours_of_the_next_year(timezone: str, windows: list[tuple[str, str]]) -> None:
    found = recurrence.dst_windows(ZoneInfo(timezone), NOW)
    assert [(a.isoformat(timespec="minutes"), b.isoformat(timespec="minutes")) for a, b in found] == windows
    assert all(isinstance(a, datetime) and a.tzinfo is None for a, _ in found)


@pytest.mark.parametrize(
    ("cron", "timezone"),
    [
        ("0 9 * * MON-FRI", "Europe/Berlin"),
        ("*/15 * * * *", "UTC"),
        ("15 3 * * *", "Europe/Berlin"),
        ("0 0 * * *", "UTC"),
    ],
)
def test_a_native_firing_stands_for_exactly_the_domains_runs(cron: str, timezone: str) -> None:
    """The fire expression, evaluated like EventBridge (wall clock of the zone), plus the lead gives
    the domain's run instants over a year (so the Lambda's run time is always a real run)."""
    plan = recurrence.native_cron(cron, timezone, NOW)
    assert isinstance(plan, recurrence.Native)
    fields = plan.expression[5:-1].split()
    dow = fields[4]
    five = " ".join([fields[0], fields[1], "*" if fields[2] == "?" else fields[2], fields[3], _cron_dow(dow)])
    tz = ZoneInfo(timezone)
    start = datetime.fromtimestamp(NOW / 1000, UTC).astimezone(tz).replace(tzinfo=None)
    firings = []
    for wall in CronSim(five, start):
        instant = int(wall.replace(tzinfo=tz).timestamp() * 1000)
        if instant > NOW + 366 * 86_400_000:
            break
        firings.append(instant + plan.ahead_ms)
    schedule_runs = []
    schedule = Schedule(
        "sch_x", "t", "a", "{}", Recurrence(timezone, cron=cron), MissedRuns.SKIP, ScheduleState.ACTIVE, 0, 0, None
    )
    for run_at in iter_runs(schedule, NOW + MINUTE):
        if run_at > NOW + 366 * 86_400_000:
            break
        schedule_runs.append(run_at)
    assert [f for f in firings if f > NOW + MINUTE] == schedule_runs


def _cron_dow(field: str) -> str:
    """EventBridge day-of-week (1-7 = SUN-SAT) back to cron's 0-6, for the simulation above."""
    if field in ("?", "*"):
        return "*"
    return ",".join("-".join(str(int(n) - 1) for n in part.split("-")) for part in field.split(","))


_FIELD = st.sampled_from
_CRONS = st.tuples(
    _FIELD(["0", "5", "*/15", "1-10", "0,30", "*", "59"]),
    _FIELD(["*", "9", "0", "9-17", "*/6", "23"]),
    _FIELD(["*", "1", "L", "*/2", "1,15", "31", "1-7"]),
    _FIELD(["*", "JAN", "6-8", "*/3"]),
    _FIELD(["*", "MON-FRI", "0", "5L", "MON#2", "0,6", "SUN"]),
)


@given(_CRONS, _FIELD(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]))
@settings(max_examples=150, deadline=None)
def test_every_native_expression_is_one_eventbridge_accepts(fields: tuple[str, ...], timezone: str) -> None:
    plan = recurrence.native_cron(" ".join(fields), timezone, NOW)
    if isinstance(plan, recurrence.Native):
        assert recurring_expression_problem(plan.expression) is None
    else:
        assert plan.reason

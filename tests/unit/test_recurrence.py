"""Recurrence time rules: cron on a zone's wall clock across DST gaps, repeats and rule changes; `every`."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.domain.errors import InvalidInput, PlanLimit
from chalicelib.domain.recurrence import (
    MissedRuns,
    Recurrence,
    Schedule,
    ScheduleState,
    check_interval,
    check_window,
    format_every,
    next_run,
    parse_cron,
    parse_every,
    run_key,
    runs_between,
    zone,
)
from chalicelib.domain.times import format_ms, parse_instant


def at(text: str) -> int:
    return parse_instant(text, field="t")


def runs(cron: str, tz: str, after: str, n: int) -> list[str]:
    found = Recurrence(timezone=tz, cron=cron).runs_after(at(after))
    return [format_ms(run) for run in itertools.islice(found, n)]


def test_berlin_spring_gap_runs_at_the_first_instant_after_it() -> None:
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z); 02:30 does not exist that day
    assert runs("30 2 * * *", "Europe/Berlin", "2026-03-28T00:00:00Z", 3) == [
        "2026-03-28T01:30:00.000Z",  # 02:30 CET
        "2026-03-29T01:00:00.000Z",  # the gap's end, 03:00 CEST
        "2026-03-30T00:30:00.000Z",  # 02:30 CEST
    ]


def test_times_of_one_gap_are_one_run() -> None:
    # every 15 minutes: 02:00, 02:15, 02:30, 02:45 and 03:00 all fall on 03:00 CEST, once
    assert runs("*/15 * * * *", "Europe/Berlin", "2026-03-29T00:40:00Z", 3) == [
        "2026-03-29T00:45:00.000Z",
        "2026-03-29T01:00:00.000Z",
        "2026-03-29T01:15:00.000Z",
    ]


def test_berlin_autumn_repeat_runs_once() -> None:
    # 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00Z); 02:30 happens at 00:30Z and 01:30Z
    assert runs("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 2) == [
        "2026-10-25T00:30:00.000Z",
        "2026-10-26T01:30:00.000Z",
    ]


def test_new_york_spring_gap_and_autumn_repeat() -> None:
    # 2026-03-08: 02:00 EST -> 03:00 EDT (07:00Z); 2026-11-01: 02:00 EDT -> 01:00 EST (06:00Z)
    assert runs("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 2) == [
        "2026-03-08T07:00:00.000Z",
        "2026-03-09T06:30:00.000Z",
    ]
    assert runs("*/30 * * * *", "America/New_York", "2026-11-01T05:10:00Z", 3) == [
        "2026-11-01T05:30:00.000Z",  # 01:30 EDT
        "2026-11-01T07:00:00.000Z",  # 02:00 EST: 01:00 and 01:30 EST repeat wall times already run
        "2026-11-01T07:30:00.000Z",
    ]


def test_a_run_after_an_instant_in_the_repeated_hour_is_not_its_first_occurrence() -> None:
    # from 01:10 EST (the second 01:10), the next 01:30 wall time is a repeat: skip to the next day
    assert runs("30 1 * * *", "America/New_York", "2026-11-01T06:10:00Z", 1) == ["2026-11-02T06:30:00.000Z"]


def test_a_zone_whose_rules_changed() -> None:
    # Sao Paulo kept DST until 2019: 09:00 was 11:00Z in January 2018 and is 12:00Z since 2020;
    # and its 2018 gap was at midnight (00:00 -> 01:00 on 4 November), so the midnight run moved to 01:00
    assert runs("0 9 * * *", "America/Sao_Paulo", "2018-01-10T00:00:00Z", 1) == ["2018-01-10T11:00:00.000Z"]
    assert runs("0 9 * * *", "America/Sao_Paulo", "2020-01-10T00:00:00Z", 1) == ["2020-01-10T12:00:00.000Z"]
    assert runs("0 0 * * *", "America/Sao_Paulo", "2018-11-03T12:00:00Z", 2) == [
        "2018-11-04T03:00:00.000Z",  # 01:00 -02:00, the first instant after the gap
        "2018-11-05T02:00:00.000Z",
    ]


def test_samoa_skipped_a_whole_day() -> None:
    # Pacific/Apia went from -10 to +14 at the end of 2011-12-29: 30 December never happened there
    assert runs("0 12 * * *", "Pacific/Apia", "2011-12-29T12:00:00Z", 2) == [
        "2011-12-29T22:00:00.000Z",  # 12:00 -10:00 on the 29th
        "2011-12-30T10:00:00.000Z",  # the 30th's noon is in the gap: the gap ends at 00:00 +14 on the 31st
    ]


def test_cron_names_ranges_and_lists() -> None:
    assert runs("0 9 * * MON-FRI", "UTC", "2026-12-04T10:00:00Z", 2) == [  # a Friday
        "2026-12-07T09:00:00.000Z",
        "2026-12-08T09:00:00.000Z",
    ]
    assert runs("0 0 1 jan,jul *", "UTC", "2026-02-01T00:00:00Z", 1) == ["2026-07-01T00:00:00.000Z"]
    assert parse_cron("  0   9 * *  mon ") == "0 9 * * mon"


@pytest.mark.parametrize(
    "expression", ["", "* * * *", "* * * * * *", "60 * * * *", "0 24 * * *", "0 0 30 2 *", "@daily", "0 0 * * MOON"]
)
def test_invalid_cron_is_an_input_error(expression: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_cron(expression)
    assert caught.value.field == "cron"


@pytest.mark.parametrize(
    ("text", "ms"), [("30s", 30_000), ("15m", 900_000), ("1h30m", 5_400_000), ("1d", 86_400_000), ("PT15M", 900_000)]
)
def test_every_parses(text: str, ms: int) -> None:
    assert parse_every(text) == ms
    assert parse_every(format_every(ms)) == ms


@pytest.mark.parametrize("text", ["", "0s", "15", "5 m", "-5m", "1w", "P", "400d", "1.5h"])
def test_invalid_every_is_an_input_error(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_every(text)
    assert caught.value.field == "every"


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "Europe/Berlin "])
def test_unknown_zones_are_input_errors(name: str) -> None:
    with pytest.raises(InvalidInput):
        zone(name)


def _schedule(recurrence: Recurrence, **fields: object) -> Schedule:
    base: dict[str, object] = {
        "id": "sch_1",
        "tenant_id": "t",
        "app_id": "app_1",
        "payload_json": "{}",
        "recurrence": recurrence,
        "missed_runs": MissedRuns.SKIP,
        "state": ScheduleState.ACTIVE,
        "created_at": 0,
        "updated_at": 0,
        "next_run_at": None,
    }
    return Schedule(**{**base, **fields})  # type: ignore[arg-type]


def test_every_runs_from_its_anchor_within_the_window() -> None:
    start, end = at("2026-12-01T10:00:00Z"), at("2026-12-01T11:00:00Z")
    schedule = _schedule(Recurrence(timezone="UTC", every_ms=900_000, anchor_ms=start), start_at=start, end_at=end)
    assert next_run(schedule, 0) == start
    assert next_run(schedule, start) == start + 900_000
    assert runs_between(schedule, 0, end + 10**9, limit=10) == [start + k * 900_000 for k in range(5)]
    assert next_run(schedule, end) is None


def test_cron_respects_start_and_end() -> None:
    start, end = at("2026-12-01T10:30:00Z"), at("2026-12-01T12:00:00Z")
    schedule = _schedule(Recurrence(timezone="UTC", cron="0 * * * *"), start_at=start, end_at=end)
    assert runs_between(schedule, 0, end + 10**9, limit=10) == [at("2026-12-01T11:00:00Z"), end]
    with pytest.raises(InvalidInput):
        check_window(end, start)


def test_minimum_interval_of_the_plan() -> None:
    every_minute = Recurrence(timezone="UTC", cron="* * * * *")
    check_interval(every_minute, min_interval_s=60, plan="pro", now_ms=0)
    with pytest.raises(PlanLimit):
        check_interval(every_minute, min_interval_s=300, plan="free", now_ms=0)
    # a cron whose runs bunch up once an hour still counts its shortest gap
    with pytest.raises(PlanLimit):
        check_interval(Recurrence(timezone="UTC", cron="0,1 * * * *"), min_interval_s=300, plan="free", now_ms=0)
    with pytest.raises(PlanLimit):
        check_interval(Recurrence(timezone="UTC", every_ms=10_000), min_interval_s=60, plan="pro", now_ms=0)


def test_run_keys_differ_per_schedule_and_instant() -> None:
    assert run_key("sch_1", 5) != run_key("sch_1", 6) != run_key("sch_2", 5)

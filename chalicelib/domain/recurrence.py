"""Recurring schedules: the model, its validation and the time rules of its runs (no I/O).

A schedule repeats either on a 5-field `cron` expression evaluated on the wall clock of an IANA
`timezone`, or `every` a fixed duration (elapsed time, the same in every zone). Runs are Unix ms
instants; each run becomes one ordinary message, created once per (schedule, run instant).

Daylight-saving rules for `cron` (the wall clock is evaluated by `cronsim` on naive local times,
then each local time is placed on the time line here):
- a local time that does not exist (in a spring-forward gap) runs at the first instant after the
  gap; several such times of one gap are one run;
- a local time that happens twice (autumn fall-back) runs once, at its first occurrence;
- the zone's rules are read from zoneinfo for each date, so past and future rule changes apply.
`every` ignores the zone: runs are `anchor + k * every`, the anchor being `startAt` or, without
one, one interval after creation.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from chalicelib.domain.errors import InvalidInput, PlanLimit
from chalicelib.domain.times import format_ms, to_ms

SCHEDULE_PREFIX = "sch_"
RUN_KEY_PREFIX = "schedule:"  # idempotency keys of runs: schedule:{id}:{run instant in ms}
MAX_CATCH_UP_RUNS = 100  # missedRuns=all creates at most this many (the latest) missed runs
MAX_EVERY_MS = 366 * 86_400_000
_GAP_SEARCH_MS = 86_400_000  # no zone has a gap longer than a day (Samoa skipped one in 2011)
_CRON_SAMPLE = 200  # runs looked at to find a cron expression's shortest interval
_EVERY = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_ISO_EVERY = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_UNIT_MS = (86_400_000, 3_600_000, 60_000, 1_000)


class InvalidSchedule(InvalidInput):
    """A schedule's cron, every, timezone or time window is not valid (a 400 like any bad input)."""


class MissedRuns(enum.StrEnum):
    """What runs that fell in downtime (the dispatcher was not running) become once it runs again."""

    SKIP = "skip"  # none: the schedule continues with its next future run
    ONCE = "once"  # one run now, for the latest missed run time
    ALL = "all"  # each missed run, now (at most MAX_CATCH_UP_RUNS, the latest ones)


class ScheduleState(enum.StrEnum):
    """Whether runs are created."""

    ACTIVE = "active"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class Recurrence:
    """When runs happen: `cron` on the wall clock of `timezone`, xor `every_ms` from `anchor_ms`."""

    timezone: str
    cron: str | None = None
    every_ms: int | None = None
    anchor_ms: int = 0  # `every` only: the first run time (startAt, or creation + every)

    def runs_after(self, after_ms: int) -> Iterator[int]:
        """Run instants strictly after `after_ms`, in order (endless; the caller bounds it)."""
        if self.every_ms is not None:
            return _every_after(self.anchor_ms, self.every_ms, after_ms)
        assert self.cron is not None
        return _cron_after(self.cron, zone(self.timezone), after_ms)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A tenant's recurring schedule. `version` changes with each change a caller makes (its etag);
    the dispatcher's bookkeeping (`next_run_at`, `last_run_at`, counts) does not change it."""

    id: str
    tenant_id: str
    app_id: str
    payload_json: str
    recurrence: Recurrence
    missed_runs: MissedRuns
    state: ScheduleState
    created_at: int
    updated_at: int
    next_run_at: int | None  # None: no run left (past endAt), or paused
    start_at: int | None = None
    end_at: int | None = None
    last_run_at: int | None = None  # the latest run time created (or skipped) so far
    skipped_count: int = 0  # runs not created: skipped after downtime, over quota, app deleted
    version: int = 1

    @property
    def etag(self) -> str:
        """Opaque version tag for `If-Match`."""
        return f'"{self.version}"'

    @property
    def cron(self) -> str | None:
        """The cron expression, if the schedule uses one."""
        return self.recurrence.cron

    @property
    def every_ms(self) -> int | None:
        """The interval, if the schedule uses one."""
        return self.recurrence.every_ms

    @property
    def timezone(self) -> str:
        """The IANA zone the cron expression is read in."""
        return self.recurrence.timezone

    def changed(self, **changes: object) -> Schedule:
        """A copy with `changes` and the next version (a caller's change)."""
        return dataclasses.replace(self, version=self.version + 1, **changes)  # type: ignore[arg-type]

    def advanced(self, **changes: object) -> Schedule:
        """A copy with the dispatcher's `changes`, same version."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def run_key(schedule_id: str, run_at_ms: int) -> str:
    """The idempotency key of a schedule's run: a run is created once per (schedule, run instant)."""
    return f"{RUN_KEY_PREFIX}{schedule_id}:{run_at_ms}"


def iter_runs(schedule: Schedule, after_ms: int) -> Iterator[int]:
    """Run instants strictly after `after_ms` inside [startAt, endAt], in order."""
    floor = after_ms if schedule.start_at is None else max(after_ms, schedule.start_at - 1)
    for run_at in schedule.recurrence.runs_after(floor):
        if schedule.end_at is not None and run_at > schedule.end_at:
            return
        yield run_at


def next_run(schedule: Schedule, after_ms: int) -> int | None:
    """The first run strictly after `after_ms` inside [startAt, endAt], or None when none is left."""
    return next(iter_runs(schedule, after_ms), None)


def runs_between(schedule: Schedule, after_ms: int, until_ms: int, *, limit: int) -> list[int]:
    """Up to `limit` runs in (after_ms, until_ms], oldest first (the window's start/end applied)."""
    runs: list[int] = []
    for run_at in iter_runs(schedule, after_ms):
        if run_at > until_ms or len(runs) >= limit:
            break
        runs.append(run_at)
    return runs


# ---- validation --------------------------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; unknown names are `InvalidSchedule`."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise InvalidSchedule(f"unknown time zone {name!r}; use an IANA name like Europe/Berlin", field="timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InvalidSchedule(
            f"unknown time zone {name!r}; use an IANA name like Europe/Berlin", field="timezone"
        ) from exc


def parse_cron(text: str) -> str:
    """A 5-field cron expression (minute hour day-of-month month day-of-week; numbers, names like
    MON or JAN, ranges, lists, steps, `L` and `#`), normalised to single spaces."""
    fields = text.split()
    if len(fields) != 5:
        raise InvalidSchedule(
            "cron must have 5 fields: minute hour day-of-month month day-of-week (like '0 9 * * MON-FRI')",
            field="cron",
        )
    expression = " ".join(fields)
    try:
        next(CronSim(expression, datetime(2000, 1, 1)))
    except (CronSimError, StopIteration) as exc:
        raise InvalidSchedule(f"invalid cron expression {expression!r}: {exc}", field="cron") from exc
    return expression


def parse_every(text: str) -> int:
    """A duration like `30s`, `15m`, `1h30m`, `1d` or ISO 8601 `PT15M`, as ms (> 0, at most 366 days)."""
    match = _EVERY.match(text) or _ISO_EVERY.match(text)
    if not text or not match:
        raise InvalidSchedule(
            f"every must be a duration like 30s, 15m, 1h30m, 1d or PT15M; got {text!r}", field="every"
        )
    every_ms = sum(int(part) * unit for part, unit in zip(match.groups(), _UNIT_MS, strict=True) if part)
    if every_ms <= 0:
        raise InvalidSchedule("every must be longer than 0", field="every")
    if every_ms > MAX_EVERY_MS:
        raise InvalidSchedule("every must be at most 366 days", field="every")
    return every_ms


def format_every(every_ms: int) -> str:
    """The canonical text of an interval: `1h30m`, `45s`, `2d`."""
    parts, rest = [], every_ms // 1000
    for unit, seconds in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, seconds)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def shortest_interval_ms(recurrence: Recurrence, from_ms: int) -> int:
    """The shortest gap between consecutive runs (for cron: over its next runs from `from_ms`)."""
    if recurrence.every_ms is not None:
        return recurrence.every_ms
    runs = recurrence.runs_after(from_ms)
    previous = next(runs)
    shortest = MAX_EVERY_MS
    for _, run_at in zip(range(_CRON_SAMPLE), runs, strict=False):
        shortest = min(shortest, run_at - previous)
        previous = run_at
    return shortest


def check_interval(recurrence: Recurrence, *, min_interval_s: int | None, plan: str, now_ms: int) -> None:
    """`PlanLimit` when the schedule runs more often than the plan allows."""
    if min_interval_s is None:
        return
    shortest = shortest_interval_ms(recurrence, now_ms)
    if shortest < min_interval_s * 1000:
        field = "every" if recurrence.every_ms is not None else "cron"
        raise PlanLimit(
            f"plan {plan} allows runs at most every {min_interval_s} s; this schedule runs every {shortest / 1000:g} s",
            field=field,
        )


def check_window(start_at: int | None, end_at: int | None) -> None:
    """`endAt` must be after `startAt`."""
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise InvalidSchedule("endAt must be after startAt", field="endAt")


# ---- time rules --------------------------------------------------------------------------------


def _every_after(anchor_ms: int, every_ms: int, after_ms: int) -> Iterator[int]:
    k = 0 if after_ms < anchor_ms else (after_ms - anchor_ms) // every_ms + 1
    run_at = anchor_ms + k * every_ms
    while True:
        yield run_at
        run_at += every_ms


def _cron_after(expression: str, tz: ZoneInfo, after_ms: int) -> Iterator[int]:
    """Cron runs after `after_ms`: cronsim walks naive local times, `_place` puts each on the time line."""
    local = datetime.fromtimestamp(after_ms / 1000, UTC).astimezone(tz).replace(tzinfo=None)
    last = after_ms
    for wall in CronSim(expression, local):
        run_at = _place(wall, tz)
        if run_at > last:
            last = run_at
            yield run_at


def _place(wall: datetime, tz: ZoneInfo) -> int:
    """The instant of a local wall time: its first occurrence when repeated, the end of the gap when
    it does not exist."""
    candidates = sorted({to_ms(wall.replace(tzinfo=tz, fold=0)), to_ms(wall.replace(tzinfo=tz, fold=1))})
    for instant in candidates:
        if _exists(wall, tz, instant):
            return instant
    return _gap_end(tz, candidates[0], candidates[-1])


def _exists(wall: datetime, tz: ZoneInfo, instant_ms: int) -> bool:
    local = datetime.fromtimestamp(instant_ms / 1000, UTC).astimezone(tz)
    return local.replace(tzinfo=None) == wall


def _gap_end(tz: ZoneInfo, low_ms: int, high_ms: int) -> int:
    """The first instant (whole second) whose UTC offset is the post-gap one, between two instants
    that straddle the transition."""
    after_offset = _offset_s(tz, high_ms)
    if high_ms - low_ms > _GAP_SEARCH_MS:
        low_ms = high_ms - _GAP_SEARCH_MS
    low, high = low_ms // 1000, -(-high_ms // 1000)
    while low < high:
        mid = (low + high) // 2
        if _offset_s(tz, mid * 1000) == after_offset:
            high = mid
        else:
            low = mid + 1
    return low * 1000


def _offset_s(tz: ZoneInfo, instant_ms: int) -> float:
    offset = datetime.fromtimestamp(instant_ms / 1000, UTC).astimezone(tz).utcoffset()
    assert offset is not None
    return offset.total_seconds()


def describe_run(run_at_ms: int) -> str:
    """The run instant as RFC 3339 text (for messages and errors)."""
    return format_ms(run_at_ms)

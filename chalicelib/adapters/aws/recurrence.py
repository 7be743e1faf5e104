"""How a recurring schedule is armed on EventBridge Scheduler: pure rules, no boto3.

A schedule is **native** (one recurring EventBridge Scheduler schedule, `cron(...)` or `rate(...)` with
`ScheduleExpressionTimezone`) when EventBridge fires it at exactly the domain's run times, shifted a
fixed `ahead_ms` earlier so the run's message exists before its time (EventBridge fires within its
minute, 0-59 s late; the delivery Lambda re-queues an early firing through SQS to the second).
Anything else is **chained**: one one-time `at()` schedule (or an SQS delay) per next run, armed again
after each run. Chained, with the reason (`NotNative.reason`), when:

- day-of-month and day-of-week are both restricted (cron's OR rule; EventBridge needs one to be `?`);
- `L`, `W`, `#` in a list or combined with other days (EventBridge takes them alone only), or `LW`;
- a run a minute early cannot be written as a cron (the minute field has 0 and other minutes while the
  hours are restricted, or the run is at midnight on restricted days);
- a run of the next year falls in a daylight-saving gap or a repeated hour of the zone (EventBridge
  skips a time that does not exist and runs a repeated one once without saying which; the domain runs
  a gap time at the end of the gap and a repeated one at its first occurrence);
- `every` is not a whole number of minutes (rate's units are minutes, hours and days);
- the expression would be longer than EventBridge's 256 characters.

EventBridge's rules (fields, wildcards, `?`, DoW 1-7 = SUN-SAT, rate units) are cited in
`chalicelib.adapters.aws.limits`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cronsim import CronSim
from cronsim.cronsim import Field

from chalicelib.adapters.aws import limits
from chalicelib.domain.recurrence import Recurrence, zone

AHEAD_MS = 60_000  # a native schedule fires a minute before the run (so 1-60 s early)
DST_HORIZON_DAYS = 366  # the zone's transitions of the next year are checked
_LAST = CronSim.LAST
_LAST_WEEKDAY = CronSim.LAST_WEEKDAY
_MINUTE = 60_000


@dataclass(frozen=True, slots=True)
class Native:
    """One recurring EventBridge schedule: `expression` in `timezone`, firing `ahead_ms` (plus, for a
    rate, the run's offset inside its minute) before each run; `start_ms` is its StartDate, if any."""

    expression: str
    timezone: str
    ahead_ms: int
    start_ms: int | None = None


@dataclass(frozen=True, slots=True)
class NotNative:
    """Chained: why the schedule has no exact native form."""

    reason: str


def plan(recurrence: Recurrence, next_run_at: int, now_ms: int) -> Native | NotNative:
    """The native form of a recurrence whose next run is `next_run_at`, or why there is none."""
    if recurrence.every_ms is not None:
        return _rate(recurrence.every_ms, next_run_at)
    assert recurrence.cron is not None
    return native_cron(recurrence.cron, recurrence.timezone, now_ms)


def run_of_firing(native: Native | None, scheduled_ms: int) -> int:
    """The run a native firing stands for: its scheduled time plus the lead it was armed with."""
    return scheduled_ms + (native.ahead_ms if native else 0)


# ---- rate ----------------------------------------------------------------------------------------


def rate_expression(every_ms: int) -> str | None:
    """`rate(n unit)` for a whole number of minutes (largest whole unit, singular for 1), else None."""
    if every_ms % _MINUTE:
        return None
    for unit, size in (("day", 86_400_000), ("hour", 3_600_000), ("minute", _MINUTE)):
        if every_ms % size == 0:
            count = every_ms // size
            return f"rate({count} {unit if count == 1 else unit + 's'})"
    return None  # pragma: no cover - minutes always divide


def _rate(every_ms: int, next_run_at: int) -> Native | NotNative:
    expression = rate_expression(every_ms)
    if expression is None:
        return NotNative("every is not a whole number of minutes (rate takes minutes, hours, days)")
    # StartDate on a whole minute, a minute before the run's minute: each firing is then 60 s plus the
    # run's offset inside its minute ahead of the run
    offset = next_run_at % _MINUTE
    start = next_run_at - offset - AHEAD_MS
    return Native(expression, "UTC", AHEAD_MS + offset, start_ms=start)


# ---- cron ----------------------------------------------------------------------------------------


def native_cron(cron: str, timezone: str, now_ms: int) -> Native | NotNative:
    """The EventBridge cron firing a minute before each run of a 5-field cron, or why there is none."""
    minute_text, hour_text, _, month_text, _ = cron.upper().split()
    minutes = _ints(Field.MINUTE.parse(minute_text))
    hours = _ints(Field.HOUR.parse(hour_text))
    months = _ints(Field.MONTH.parse(month_text))
    days = _day_fields(cron)
    if isinstance(days, NotNative):
        return days
    dom_field, dow_field, every_day = days
    shifted = _shift(minutes, hours, every_day=every_day and len(months) == 12)
    if shifted is None:
        return NotNative("a run a minute early cannot be written as a cron (minute 0 with others, or midnight)")
    fire_minutes, fire_hours = shifted
    month_field = "*" if len(months) == 12 else _list(months)
    fields = [_list(fire_minutes, 60), _list(fire_hours, 24), dom_field, month_field, dow_field, "*"]
    expression = f"cron({' '.join(fields)})"
    if len(expression) > limits.SCHEDULE_EXPRESSION_MAX:
        return NotNative("the expression is longer than EventBridge takes")
    fire_cron = " ".join([_list(fire_minutes, 60, star=False), _list(fire_hours, 24, star=False), *_five(cron)[2:]])
    for window in dst_windows(zone(timezone), now_ms):
        if _matches_in(cron, window) or _matches_in(fire_cron, window):
            return NotNative("a run falls in a daylight-saving gap or repeated hour of the zone")
    return Native(expression, timezone, AHEAD_MS)


def _day_fields(cron: str) -> tuple[str, str, bool] | NotNative:
    """EventBridge's (day-of-month, day-of-week) fields, one of them `?`, and whether every day runs."""
    _, _, dom_text, _, dow_text = cron.upper().split()
    days = Field.DAY.parse(dom_text)
    weekdays = {w % 7 if isinstance(w, int) else w for w in Field.DOW.parse(dow_text)}
    dom_full, dow_full = days == set(range(1, 32)), weekdays == set(range(7))
    and_rule = dom_text.startswith("*") or dow_text.startswith("*")  # cron: AND if either starts with *
    if not (dom_full or dow_full):
        return NotNative("both day-of-month and day-of-week are restricted")
    every_day = (dom_full and dow_full) or not and_rule
    if every_day:
        return "*", "?", True
    dom_field, dow_field = (_dom(days), "?") if dow_full else ("?", _dow(weekdays))
    if dom_field is None or dow_field is None:
        return NotNative("L, W or # with other days (EventBridge takes them alone), or LW")
    return dom_field, dow_field, False


def _five(cron: str) -> list[str]:
    return cron.upper().split()


def _ints(items: Iterable[object]) -> set[int]:
    return {item for item in items if isinstance(item, int)}


def _shift(minutes: set[int], hours: set[int], *, every_day: bool) -> tuple[set[int], set[int]] | None:
    """(minutes, hours) one minute earlier, when that is again a product of two sets."""
    if 0 not in minutes:
        return {m - 1 for m in minutes}, hours
    if len(hours) == 24:  # every hour: 00 becomes 59 of the hour before (of the day before at midnight)
        if not every_day:
            return None
        return {(m - 1) % 60 for m in minutes}, hours
    if minutes != {0}:
        return None
    if 0 in hours and not every_day:
        return None
    return {59}, {(h - 1) % 24 for h in hours}


def _list(values: set[int], size: int = 0, *, star: bool = True) -> str:
    """`*` for a full field, else ranges and single values (`0-5,30`)."""
    if star and size and len(values) == size:
        return "*"
    ordered = sorted(values)
    parts: list[str] = []
    start = prev = ordered[0]
    for value in [*ordered[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if value is not None:
            start = prev = value
    return ",".join(parts)


def _dom(days: set[Any]) -> str | None:
    if days == {_LAST}:
        return "L"
    if any(not isinstance(day, int) or not 1 <= day <= 31 for day in days):
        return None
    return _list({d for d in days if isinstance(d, int)})


def _dow(weekdays: set[Any]) -> str | None:
    """EventBridge's day-of-week: 1-7 = SUN-SAT (cron's 0-6), `nL`, `n#k` alone."""
    special = [w for w in weekdays if not isinstance(w, int)]
    if special:
        if len(weekdays) != 1:
            return None
        day, which = special[0]
        return f"{day % 7 + 1}L" if which == _LAST else f"{day % 7 + 1}#{which}"
    return _list({w + 1 for w in weekdays if isinstance(w, int)})


# ---- daylight saving -----------------------------------------------------------------------------


def dst_windows(tz: ZoneInfo, now_ms: int) -> list[tuple[datetime, datetime]]:
    """Local wall-time windows (naive) of the zone's gaps and repeated hours in the next year."""
    windows: list[tuple[datetime, datetime]] = []
    start = datetime.fromtimestamp(now_ms / 1000, UTC)
    day = timedelta(days=1)
    previous = start.astimezone(tz).utcoffset()
    for n in range(1, DST_HORIZON_DAYS + 1):
        moment = start + n * day
        offset = moment.astimezone(tz).utcoffset()
        if offset == previous:
            continue
        assert offset is not None and previous is not None
        at = _transition(tz, moment - day, moment)
        low, high = sorted((at + previous, at + offset))
        windows.append((low.replace(tzinfo=None), high.replace(tzinfo=None)))
        previous = offset
    return windows


def _transition(tz: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first second (UTC) at which the offset of `high` applies."""
    after = high.astimezone(tz).utcoffset()
    lo, hi = int(low.timestamp()), int(high.timestamp())
    while lo < hi:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid + 1
    return datetime.fromtimestamp(lo, UTC)


def _matches_in(cron: str, window: tuple[datetime, datetime]) -> bool:
    """Whether the cron matches a wall minute in [start - 1 min, end + 1 min] (a margin for the shift)."""
    low, high = window
    first = next(CronSim(cron, low - timedelta(minutes=2)), None)
    return first is not None and first <= high + timedelta(minutes=1)

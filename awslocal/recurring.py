"""EventBridge Scheduler's recurring expressions, evaluated as EventBridge documents them (for the driver).

`cron(min hour dom month dow year)` runs on the wall clock of `ScheduleExpressionTimezone` (day-of-week
1-7 = SUN-SAT, one of the day fields `?`); a wall time that does not exist (spring forward) is skipped,
a repeated one (fall back) runs once, at its first occurrence. `rate(n unit)` runs every n units from
`StartDate` (or from when the schedule was first seen). Both respect StartDate/EndDate. The nominal
time is what `<aws.scheduler.scheduled-time>` carries; the driver fires within the minute after it.
https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cronsim import CronSim

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
_HORIZON = timedelta(days=800)


def is_recurring(expression: str) -> bool:
    """Whether an expression is `cron(...)` or `rate(...)`."""
    return expression.startswith(("cron(", "rate("))


def _when(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def next_nominal(detail: dict[str, Any], after_s: float, first_seen_s: float) -> float | None:
    """The first nominal firing time (Unix s) of a recurring schedule strictly after `after_s`, or None."""
    expression = detail["ScheduleExpression"]
    start, end = _when(detail.get("StartDate")), _when(detail.get("EndDate"))
    floor = after_s if start is None else max(after_s, start - 1e-3)
    rate = _RATE.fullmatch(expression)
    if rate is not None:
        period = int(rate.group(1)) * _UNIT_S[rate.group(2).rstrip("s")]
        anchor = start if start is not None else first_seen_s
        steps = 0 if floor < anchor else int((floor - anchor) // period) + 1
        nominal = anchor + steps * period
    else:
        nominal_or_none = _cron_next(expression, detail.get("ScheduleExpressionTimezone") or "UTC", floor)
        if nominal_or_none is None:
            return None
        nominal = nominal_or_none
    return None if end is not None and nominal > end else nominal


def _cron_next(expression: str, timezone: str, after_s: float) -> float | None:
    minute, hour, dom, month, dow, year = expression[5:-1].split()
    if year != "*":
        raise ValueError(f"cron years other than * are not driven locally: {expression}")
    five = " ".join([minute, hour, "*" if dom == "?" else dom, month, "*" if dow == "?" else _dow(dow)])
    tz = ZoneInfo(timezone)
    local = datetime.fromtimestamp(after_s, UTC).astimezone(tz).replace(tzinfo=None)
    for wall in CronSim(five, local):
        if wall - local > _HORIZON:
            return None
        first = wall.replace(tzinfo=tz, fold=0)
        if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
            continue  # does not exist (spring forward): skipped
        instant = first.timestamp()
        if instant > after_s:
            return instant
    return None


def _dow(field: str) -> str:
    """EventBridge's day-of-week (1-7 = SUN-SAT, `nL`, `n#k`, names) in cron's 0-6."""

    def one(token: str) -> str:
        return str(int(token) - 1) if token.isdigit() else token

    if "#" in field:
        day, nth = field.split("#")
        return f"{one(day)}#{nth}"
    if field.endswith("L") and field[:-1].isdigit():
        return f"{one(field[:-1])}L"
    return ",".join("-".join(one(t) for t in part.split("-")) for part in field.split(","))


def scheduled_time_text(nominal_s: float) -> str:
    """`<aws.scheduler.scheduled-time>` as EventBridge writes it: `2022-03-22T18:59:43Z`."""
    return datetime.fromtimestamp(int(nominal_s), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fill_input(text: str | None, nominal_s: float) -> str | None:
    """The target `Input` with the context attribute replaced."""
    return None if text is None else text.replace(SCHEDULED_TIME, scheduled_time_text(nominal_s))

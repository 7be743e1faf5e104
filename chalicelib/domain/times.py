"""Time rules: RFC 3339 parsing and formatting, epoch milliseconds, and when a message is due.

Inside the service every instant is an `int` of Unix milliseconds (UTC): cheap to compare and
store, and the same in SQLite and DynamoDB. Text appears only at the edges.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, date, datetime, timedelta

from chalicelib.domain.errors import InvalidInput

MS_PER_DAY = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
# RFC 3339 date-time: date, "T" (or space/lowercase t), time, optional fraction, mandatory offset.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def parse_instant(value: object, *, field: str) -> int:
    """Parse an RFC 3339 time with an offset into Unix ms; anything else is `InvalidInput`."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise InvalidInput(f"{field} must be an RFC 3339 time with an offset, like 2026-12-01T10:00:00Z", field=field)
    text = value.upper().replace(" ", "T").replace("Z", "+00:00")
    text = _trim_fraction(text)
    try:
        parsed = datetime.fromisoformat(text)
        ms = to_ms(parsed)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(f"{field} is not a valid time: {value}", field=field) from exc
    if ms < 0:
        raise InvalidInput(f"{field} must not be before 1970", field=field)
    if ms > _MAX_MS:
        raise InvalidInput(f"{field} is after year 9999", field=field)
    return ms


def _trim_fraction(text: str) -> str:
    """Python parses at most microseconds; RFC 3339 allows any number of fraction digits."""
    match = re.search(r"\.(\d+)", text)
    if not match or len(match.group(1)) <= 6:
        return text
    return text[: match.start(1)] + match.group(1)[:6] + text[match.end(1) :]


def to_ms(moment: datetime) -> int:
    """Unix ms of an aware datetime (raises OverflowError when it leaves datetime's range)."""
    delta = moment - _EPOCH
    return delta // timedelta(milliseconds=1)


def format_ms(ms: int) -> str:
    """`2026-12-01T10:00:00.000Z` for a Unix ms value (on every response: `gmtime` is several times faster
    than building a datetime and `strftime`)."""
    seconds, millis = divmod(ms, 1000)
    t = time.gmtime(seconds)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{millis:03d}Z"


def format_optional(ms: int | None) -> str | None:
    """`format_ms`, passing None through."""
    return None if ms is None else format_ms(ms)


def delay_to_ms(delay_seconds: float, *, field: str = "delaySeconds") -> int:
    """A finite, non-negative delay in seconds, as ms (rounded up: never fire early)."""
    if isinstance(delay_seconds, bool) or not isinstance(delay_seconds, int | float):
        raise InvalidInput(f"{field} must be a number", field=field)
    if not math.isfinite(delay_seconds) or delay_seconds < 0:
        raise InvalidInput(f"{field} must be a finite number >= 0", field=field)
    if delay_seconds > _MAX_MS / 1000:
        raise InvalidInput(f"{field} is too large", field=field)
    return math.ceil(delay_seconds * 1000)


def resolve_send_at(
    *, send_at_ms: int | None, delay_ms: int | None, now_ms: int, horizon_days: int, past_tolerance_ms: int
) -> int:
    """When a message is due. A `sendAt` up to `past_tolerance_ms` in the past means now (clocks
    differ, requests take time); further back is `InvalidInput` naming the time (a typo'd year must
    not go out at once): "now" is asked for explicitly with `delaySeconds: 0`. Beyond the horizon is
    `InvalidInput` too."""
    if (send_at_ms is None) == (delay_ms is None):
        raise InvalidInput("give exactly one of sendAt or delaySeconds (delaySeconds: 0 means now)", field="sendAt")
    if send_at_ms is not None and now_ms - send_at_ms > past_tolerance_ms:
        raise InvalidInput(
            f"sendAt {format_ms(send_at_ms)} is {describe_span(now_ms - send_at_ms)} in the past (more than "
            f"{past_tolerance_ms // 1000} s); check the date, or send delaySeconds: 0 to deliver now",
            field="sendAt",
        )
    due = send_at_ms if send_at_ms is not None else now_ms + (delay_ms or 0)
    if due - now_ms > horizon_days * MS_PER_DAY:
        field = "sendAt" if send_at_ms is not None else "delaySeconds"
        raise InvalidInput(f"{field} is more than {horizon_days} days ahead", field=field)
    return max(due, now_ms)


def describe_span(ms: int) -> str:
    """A duration for people, in its largest whole unit: `42 s`, `6 min`, `3 h`, `2 days`, `10 years`."""
    seconds = ms // 1000
    for unit, size in (("years", 365 * 86_400), ("days", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            amount = seconds // size
            return f"{amount} {unit.removesuffix('s') if amount == 1 and unit in ('years', 'days') else unit}"
    return f"{seconds} s"


def day_of(ms: int) -> str:
    """The UTC day (`YYYY-MM-DD`) an instant falls on: the metering bucket."""
    return format_ms(ms)[:10]


def parse_day(value: str, *, field: str) -> date:
    """A `YYYY-MM-DD` date, or `InvalidInput`."""
    try:
        return date.fromisoformat(value) if len(value) == 10 else _bad_day(field)
    except ValueError as exc:
        raise InvalidInput(f"{field} must be a date like 2026-12-01", field=field) from exc


def _bad_day(field: str) -> date:
    raise InvalidInput(f"{field} must be a date like 2026-12-01", field=field)

"""Metered usage per tenant per UTC day."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.model import Principal, UsageDay
from chalicelib.domain.times import day_of, parse_day
from chalicelib.services.context import Context

DEFAULT_DAYS = 30
MAX_DAYS = 366


def usage(ctx: Context, principal: Principal, *, first: str | None, last: str | None) -> list[UsageDay]:
    """Counters per day between `first` and `last` (inclusive; default the last 30 days); days with no use are 0."""
    today = parse_day(day_of(ctx.clock.now_ms()), field="to")
    last_day = parse_day(last, field="to") if last else today
    first_day = parse_day(first, field="from") if first else last_day - timedelta(days=DEFAULT_DAYS - 1)
    if first_day > last_day:
        raise InvalidInput("from must not be after to", field="from")
    if (last_day - first_day).days >= MAX_DAYS:
        raise InvalidInput(f"at most {MAX_DAYS} days at once", field="from")
    stored = {
        day.date: day for day in ctx.usage.usage(principal.tenant_id, first_day.isoformat(), last_day.isoformat())
    }
    span = (last_day - first_day).days + 1
    days = (first_day + timedelta(days=offset) for offset in range(span))
    return [stored.get(day.isoformat()) or UsageDay(day.isoformat()) for day in days]

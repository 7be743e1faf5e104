"""Metered usage per tenant per UTC day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.model import Plan, Principal, UsageDay
from chalicelib.domain.times import day_of, parse_day
from chalicelib.services.context import Context

DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Usage:
    """What `GET /usage` answers: the days of the period and the plan whose limits apply."""

    first_day: str
    last_day: str
    days: list[UsageDay]
    plan: Plan
    plan_name: str  # the tenant's plan (its limits are the default plan's if it left the configuration)
    schedules: int | None = None  # recurring schedules the tenant has (None: the backend has none)


def usage(ctx: Context, principal: Principal, *, first: str | None, last: str | None) -> Usage:
    """Counters per day. With `first`/`last` (inclusive) every day of that range is listed, zeros too;
    by default the days with activity in the last 30 (a new tenant sees no wall of zeros)."""
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
    plan = ctx.settings.plan(principal.plan)
    in_use = None if ctx.schedules is None else ctx.schedules.count_schedules(principal.tenant_id)
    if first is None and last is None:
        active = [day for key, day in sorted(stored.items()) if _active(day)]
        return Usage(first_day.isoformat(), last_day.isoformat(), active, plan, principal.plan or plan.name, in_use)
    span = (last_day - first_day).days + 1
    dates = (first_day + timedelta(days=offset) for offset in range(span))
    days = [stored.get(day.isoformat()) or UsageDay(day.isoformat()) for day in dates]
    return Usage(first_day.isoformat(), last_day.isoformat(), days, plan, principal.plan or plan.name, in_use)


def _active(day: UsageDay) -> bool:
    return bool(day.scheduled or day.delivered or day.failed or day.attempts)

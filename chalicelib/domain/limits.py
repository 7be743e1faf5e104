"""Plan limits a tenant meets: the daily message quota and caps on what it stores (apps, headers, API keys).

The quota is counted by the stores, in the same atomic step as the write that schedules a delivery
(create, batch, redrive), so no path gets around it and two racing requests cannot both take the
last unit. The caps on stored things are checked by the app and key use cases (counted by the stores).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from chalicelib.domain.errors import PlanLimit, QuotaExceeded
from chalicelib.domain.headers import header_bytes
from chalicelib.domain.model import Plan
from chalicelib.domain.times import MS_PER_DAY


def quota_exceeded(quota: int, used: int | None, now_ms: int) -> QuotaExceeded:
    """The error for a write that would take the tenant-day past `quota` (`used` already counted, if known)."""
    wait_s = max(1, math.ceil((MS_PER_DAY - now_ms % MS_PER_DAY) / 1000))
    counted = "" if used is None else f" ({used} used today)"
    return QuotaExceeded(
        f"daily quota of {quota} messages reached{counted}; it resets at 00:00 UTC", retry_after_s=wait_s
    )


def check_app_headers(plan: Plan, headers: Mapping[str, str]) -> None:
    """`PlanLimit` when an app's header set is larger than the plan allows."""
    if plan.max_headers is not None and len(headers) > plan.max_headers:
        raise PlanLimit(
            f"plan {plan.name} allows at most {plan.max_headers} headers per app ({len(headers)} given)",
            field="headers",
        )
    size = header_bytes(headers)
    if plan.max_header_bytes is not None and size > plan.max_header_bytes:
        raise PlanLimit(
            f"plan {plan.name} allows at most {plan.max_header_bytes} bytes of headers per app ({size} given)",
            field="headers",
        )


def app_limit_reached(plan: Plan, max_apps: int) -> PlanLimit:
    """The error for creating an app beyond the plan's count."""
    return PlanLimit(f"plan {plan.name} allows at most {max_apps} apps; delete one first or change plans")


def key_limit_reached(plan: Plan, max_keys: int) -> PlanLimit:
    """The error for creating an API key beyond the plan's count of live keys (revoked ones do not count)."""
    return PlanLimit(f"plan {plan.name} allows at most {max_keys} live API keys; revoke one first or change plans")

"""The `Limiter` port on AWS: request rate and burst are API Gateway usage plans (per tenant, through
the usage key the authorizer returns), so the app takes nothing here. The daily message quota is not
a limiter's either: the message store counts it atomically with each write that schedules deliveries
(a conditional update of the tenant-day's quota counter, see `messages.QuotaCounter`).
"""

from __future__ import annotations

import contextlib


class GatewayRateLimits:
    """Rates are enforced in front of the function; every check passes."""

    def check(self, tenant_id: str, plan: str, *, now_ms: int) -> None:
        """Nothing to take: API Gateway throttled the request before it got here."""

    def heavy(self, tenant_id: str) -> contextlib.AbstractContextManager[None]:
        """Nothing to share: each Lambda invocation has its own CPU."""
        return contextlib.nullcontext()

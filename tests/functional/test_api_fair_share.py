"""A request with a large body takes a fair place (`Limiter.heavy`) before it is parsed; small ones do not."""

from __future__ import annotations

from chalicelib.api.auth import HEAVY_BODY_BYTES
from chalicelib.services.context import Context
from tests.conftest import Api, Tenant
from tests.support.doubles import ScriptedLimiter


def test_only_large_bodies_wait_for_a_heavy_place(ctx: Context, admin: Api, tenant: Tenant, app_id: str) -> None:
    limiter = ctx.limiter
    assert isinstance(limiter, ScriptedLimiter)
    admin.post("/messages", {"appId": app_id, "payload": 1, "delaySeconds": 5})
    assert limiter.heavy_calls == []
    big = {"appId": app_id, "payload": "x" * (HEAVY_BODY_BYTES // 2), "delaySeconds": 5}
    response = admin.post("/messages/batch", {"messages": [big, big]})
    assert response.status_code == 200
    assert limiter.heavy_calls == [tenant.id]

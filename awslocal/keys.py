"""API Gateway's view of API keys: which usage plan an enabled key is on (read from moto, cached).

Keys are made by the functions (the tenant provisioning calls `CreateApiKey` and `CreateUsagePlanKey`);
the gateway looks a key value up once and keeps the answer, and re-reads moto for a value it does not
know yet. Only values the authorizer returned get here, so a miss is a key made moments ago. (AWS
takes up to a minute to honour a new key; honouring it at once keeps the same contract as `make run`.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from awslocal.deployment import UsagePlan


class ApiKeys:
    """value -> (key id, usage plan), for enabled keys on one of `plans`; `apigateway` is a boto3 client."""

    def __init__(self, apigateway: Any, plans: Mapping[str, UsagePlan]) -> None:
        self._client = apigateway
        self._plans = {plan.id: plan for plan in plans.values()}
        self._known: dict[str, tuple[str, UsagePlan]] = {}
        self._lock = asyncio.Lock()

    async def find(self, value: str) -> tuple[str, UsagePlan] | None:
        """The key id and usage plan of an API key value, or None."""
        if value in self._known:
            return self._known[value]
        async with self._lock:
            if value not in self._known:
                self._known = await asyncio.to_thread(self._read)
        return self._known.get(value)

    def _read(self) -> dict[str, tuple[str, UsagePlan]]:
        plan_of: dict[str, UsagePlan] = {}
        for plan_id, plan in self._plans.items():
            for page in self._client.get_paginator("get_usage_plan_keys").paginate(usagePlanId=plan_id):
                plan_of.update({item["id"]: plan for item in page.get("items", [])})
        known = {}
        for page in self._client.get_paginator("get_api_keys").paginate(includeValues=True):
            for key in page.get("items", []):
                if key.get("enabled") and key["id"] in plan_of:
                    known[key["value"]] = (key["id"], plan_of[key["id"]])
        return known

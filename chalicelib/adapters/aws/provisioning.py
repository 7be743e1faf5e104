"""Cognito Post Confirmation: a confirmed sign-up becomes a tenant with an API Gateway usage key.

The tenant id is the user's `sub`; its plan is the default plan; its usage key (an API Gateway API
key named `<prefix>-<sub>`) goes on that plan's usage plan (`SCHEDULER_USAGE_PLAN_IDS`), so the
usage plan throttles the tenant once API Gateway honours the key (~60 s). Every step is idempotent:
Cognito retries the trigger on errors and timeouts, and a retry finds the tenant, the key (looked up
by name) and the plan membership already there.

Bursts: `CreateApiKey` takes 5 requests/s per account and cannot be raised
(https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html). A sign-up whose key
API Gateway throttles still succeeds: the tenant is stored and put on the `key-pending` index, and
cleanup makes the pending keys at `KEYS_PER_S` (`provision_pending`), so a burst of sign-ups waits
a few minutes for its keys (API Gateway answers INVALID_API_KEY "not active yet" meanwhile) instead
of failing the Cognito trigger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.aws.dynamo import error_code, map_exceptions
from chalicelib.adapters.aws.stores import DynamoTenantStore
from chalicelib.domain.errors import StorageUnavailable
from chalicelib.domain.model import Page, Tenant
from chalicelib.settings import ConfigError, Settings

SIGN_UP = "PostConfirmation_ConfirmSignUp"
KEYS_PER_S = 4  # of CreateApiKey's 5/s account-wide, leaving room for operator-made tenants


@dataclass(frozen=True)
class Provisioner:
    """Creates tenants for confirmed sign-ups; `apigateway` is a boto3 API Gateway (REST) client."""

    tenants: DynamoTenantStore
    apigateway: Any
    settings: Settings
    usage_plan_ids: dict[str, str]
    key_prefix: str
    now_ms: Callable[[], int]

    def on_post_confirmation(self, event: dict[str, Any]) -> dict[str, Any]:
        """Handle a Post Confirmation event; returns it unchanged, as Cognito expects."""
        if event.get("triggerSource") != SIGN_UP:
            return event  # e.g. a confirmed forgotten-password reset: nothing to create
        attributes = event.get("request", {}).get("userAttributes", {})
        sub = attributes.get("sub")
        if not isinstance(sub, str) or not sub:
            raise ValueError("Post Confirmation event without a sub")
        name = attributes.get("name") or attributes.get("email") or event.get("userName") or sub
        try:
            self.provision(sub, str(name)[:200])
        except StorageUnavailable:  # API Gateway throttled the key: cleanup makes it
            self.tenants.mark_key_pending(sub)
        return event

    def provision_pending(self, *, limit: int, sleep: Callable[[float], None]) -> tuple[int, int]:
        """Make the usage keys of up to `limit` pending tenants, at most `KEYS_PER_S` a second;
        returns (made, still failing). A throttled one stays pending for the next run."""
        made = failed = 0
        for tenant_id in self.tenants.key_pending(limit=limit):
            record = self.tenants.record(tenant_id)
            if record is None:
                continue
            try:
                self.provision(tenant_id, str(record.get("name", tenant_id)))
                made += 1
            except StorageUnavailable:
                failed += 1
            sleep(1 / KEYS_PER_S)
        return made, failed

    def provision(self, tenant_id: str, name: str) -> None:
        """Make sure the tenant, its API key and its usage plan membership exist."""
        record = self.tenants.record(tenant_id)
        plan = self.settings.default_plan if record is None else str(record["plan"])
        if record is None:
            self.tenants.put_tenant(Tenant(tenant_id, name, plan, self.now_ms()))
        elif record.get("usageKey"):
            return
        key_id, key_value = self._api_key(tenant_id)
        self._join_plan(plan, key_id)
        self.tenants.set_usage_key(tenant_id, key_id, key_value)

    def _api_key(self, tenant_id: str) -> tuple[str, str]:
        name = f"{self.key_prefix}-{tenant_id}"
        with map_exceptions("API keys"):
            found = self.apigateway.get_api_keys(nameQuery=name, includeValues=True).get("items", [])
            match = next((key for key in found if key.get("name") == name), None)
            if match is None:
                match = self.apigateway.create_api_key(name=name, enabled=True, description=f"tenant {tenant_id}")
        return str(match["id"]), str(match["value"])

    def _join_plan(self, plan: str, key_id: str) -> None:
        plan_id = self.usage_plan_ids.get(plan)
        if plan_id is None:
            raise ConfigError(f"no usage plan id for plan {plan!r} in SCHEDULER_USAGE_PLAN_IDS")
        try:
            self.apigateway.create_usage_plan_key(usagePlanId=plan_id, keyId=key_id, keyType="API_KEY")
        except ClientError as exc:
            if error_code(exc) == "ConflictException":
                return  # on the plan already (a retried trigger)
            with map_exceptions("usage plans"):
                raise


class ProvisioningTenantStore:
    """The API's `TenantStore` on AWS: a tenant created through `/tenants` (the operator) gets its usage key
    at once, like a Cognito sign-up does, since API Gateway lets no request of a tenant in without one."""

    def __init__(self, tenants: DynamoTenantStore, provisioner: Provisioner) -> None:
        self._tenants = tenants
        self._provisioner = provisioner

    def put_tenant(self, tenant: Tenant) -> None:
        """Create or replace a tenant, then make sure it has a usage key on its plan."""
        self._tenants.put_tenant(tenant)
        self._provisioner.provision(tenant.id, tenant.name)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        """One tenant."""
        return self._tenants.get_tenant(tenant_id)

    def list_tenants(self, *, cursor: str | None, limit: int) -> Page[Tenant]:
        """Tenants by id."""
        return self._tenants.list_tenants(cursor=cursor, limit=limit)

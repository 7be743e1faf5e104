"""AWS-specific configuration, read from the environment on first use (never at import).

Every function reads only what it needs: a missing value fails when it is first used, with its name.
docs/aws-design.md lists which function reads which variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.adapters.aws.tables import table_name
from chalicelib.adapters.aws.timing import DEFAULT_LEAD_S, validate_name
from chalicelib.settings import ConfigError


@dataclass(frozen=True)
class AwsConfig:
    """Names and knobs of one deployment (a stage)."""

    table_prefix: str = "scheduler"
    release_queue_url: str = ""
    schedule_group: str = "default"
    delivery_function_arn: str = ""
    scheduler_role_arn: str = ""
    schedule_dlq_arn: str = ""
    kms_key_id: str = ""
    lead_s: int = DEFAULT_LEAD_S
    arm_horizon_s: int | None = None
    lease_s: int = 60
    operator_key_hash: str | None = None
    user_pool_id: str | None = None
    client_ids: frozenset[str] = field(default_factory=frozenset)
    region: str = "us-east-1"
    usage_plan_ids: Mapping[str, str] = field(default_factory=dict)

    def table(self, suffix: str) -> str:
        """The deployed name of a table."""
        return table_name(self.table_prefix, suffix)

    @property
    def arm_horizon_ms(self) -> int | None:
        """The arm horizon in ms (None: arm every message when stored)."""
        return None if self.arm_horizon_s is None else self.arm_horizon_s * 1000

    @property
    def issuer(self) -> str | None:
        """The Cognito user pool's token issuer."""
        if not self.user_pool_id:
            return None
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    def require(self, name: str) -> str:
        """The value of a string setting that must be set for the caller's job."""
        value = getattr(self, name)
        if not value:
            raise ConfigError(f"AWS setting {name} is not configured (see docs/aws-design.md)")
        return str(value)


def aws_config_from(env: Mapping[str, str]) -> AwsConfig:
    """An `AwsConfig` from environment variables (see docs/aws-design.md)."""
    horizon = env.get("SCHEDULER_ARM_HORIZON_S")
    group = env.get("SCHEDULER_SCHEDULE_GROUP", "default")
    validate_name(group, what="schedule group name")
    return AwsConfig(
        table_prefix=env.get("SCHEDULER_TABLE_PREFIX", "scheduler"),
        release_queue_url=env.get("SCHEDULER_RELEASE_QUEUE_URL", ""),
        schedule_group=group,
        delivery_function_arn=env.get("SCHEDULER_DELIVERY_FUNCTION_ARN", ""),
        scheduler_role_arn=env.get("SCHEDULER_SCHEDULER_ROLE_ARN", ""),
        schedule_dlq_arn=env.get("SCHEDULER_SCHEDULE_DLQ_ARN", ""),
        kms_key_id=env.get("SCHEDULER_KMS_KEY_ID", ""),
        lead_s=_int(env, "SCHEDULER_LEAD_S", DEFAULT_LEAD_S, 60, 600),
        arm_horizon_s=None if not horizon else _int(env, "SCHEDULER_ARM_HORIZON_S", 86_400, 3_600, 10**9),
        lease_s=_int(env, "SCHEDULER_LEASE_S", 60, 15, 3_600),
        operator_key_hash=env.get("SCHEDULER_OPERATOR_KEY_HASH") or None,
        user_pool_id=env.get("SCHEDULER_COGNITO_USER_POOL_ID") or None,
        client_ids=frozenset(filter(None, env.get("SCHEDULER_COGNITO_CLIENT_IDS", "").split(","))),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        usage_plan_ids=_json_map(env.get("SCHEDULER_USAGE_PLAN_IDS")),
    )


def aws_config_from_env() -> AwsConfig:
    """`aws_config_from(os.environ)`."""
    return aws_config_from(os.environ)


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    try:
        value = default if not raw else int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}")
    return value


def _json_map(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"SCHEDULER_USAGE_PLAN_IDS must be a JSON object: {exc}") from exc
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise ConfigError("SCHEDULER_USAGE_PLAN_IDS must map plan names to usage plan ids")
    return {str(k): v for k, v in parsed.items()}

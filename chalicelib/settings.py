"""Configuration read from the environment, lazily (never at import), into a frozen `Settings`."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.domain.model import Plan

DEFAULT_PLANS: dict[str, Plan] = {
    "free": Plan(
        "free",
        10,
        20,
        1_000,
        max_apps=10,
        max_headers=10,
        max_header_bytes=4_096,
        max_api_keys=10,
        max_schedules=10,
        min_interval_s=300,
    ),
    "pro": Plan(
        "pro",
        100,
        200,
        1_000_000,
        max_apps=1_000,
        max_headers=20,
        max_header_bytes=16_384,
        max_api_keys=100,
        max_schedules=10_000,
        min_interval_s=60,
    ),
    "unlimited": Plan("unlimited", None, None, None),
}


class ConfigError(ValueError):
    """A setting has a value the service cannot run with."""


@dataclass(frozen=True)
class Settings:
    """Everything configurable; see the configuration table in the README."""

    backend: str = "local"
    data_dir: Path = Path(".scheduler")
    admin_key: str | None = None
    operator_key: str | None = None
    allow_private_targets: bool = True
    max_horizon_days: int = 3650
    past_tolerance_s: int = 300
    delivery_timeout_s: float = 10.0
    retention_days: int = 30
    plans: Mapping[str, Plan] = field(default_factory=lambda: dict(DEFAULT_PLANS))
    default_plan: str = "free"
    delivery_concurrency: int = 512
    per_app_concurrency: int = 64
    per_tenant_concurrency: int = 32
    claim_ahead_ms: int = 20
    idempotency_ttl_ms: int = 86_400_000
    max_body_bytes: int = 6 * 1024 * 1024

    def plan(self, name: str) -> Plan:
        """The plan called `name`; a tenant whose plan left the configuration gets the default plan's limits."""
        return self.plans.get(name) or self.plans.get(self.default_plan) or Plan(name, None, None, None)


@functools.cache
def get_settings() -> Settings:
    """Settings from `os.environ`, read once."""
    return settings_from(os.environ)


def settings_from(env: Mapping[str, str]) -> Settings:
    """Settings from a mapping of environment variables."""
    from chalicelib.bootstrap import BACKENDS  # noqa: PLC0415 - the composition root's registry imports this module

    backend = env.get("SCHEDULER_BACKEND", "local")
    if backend not in BACKENDS:
        raise ConfigError(f"SCHEDULER_BACKEND must be one of {', '.join(sorted(BACKENDS))}, not {backend!r}")
    admin_key = env.get("SCHEDULER_ADMIN_KEY") or None
    if admin_key is not None and len(admin_key) < 24:
        raise ConfigError("SCHEDULER_ADMIN_KEY must be at least 24 characters")
    return Settings(
        backend=backend,
        data_dir=Path(env.get("SCHEDULER_DATA_DIR", ".scheduler")),
        admin_key=admin_key,
        operator_key=env.get("SCHEDULER_OPERATOR_KEY") or None,
        allow_private_targets=_bool(env, "SCHEDULER_ALLOW_PRIVATE_TARGETS", default=backend == "local"),
        max_horizon_days=_int(env, "SCHEDULER_MAX_HORIZON_DAYS", 3650, minimum=1),
        past_tolerance_s=_int(env, "SCHEDULER_PAST_TOLERANCE_S", 300, minimum=0),
        delivery_timeout_s=_float(env, "SCHEDULER_DELIVERY_TIMEOUT_S", 10.0),
        retention_days=_int(env, "SCHEDULER_RETENTION_DAYS", 30, minimum=1),
        plans=_plans(env.get("SCHEDULER_PLANS")),
        default_plan=env.get("SCHEDULER_DEFAULT_PLAN", "free"),
        delivery_concurrency=_int(env, "SCHEDULER_DELIVERY_CONCURRENCY", 512, minimum=1),
        per_app_concurrency=_int(env, "SCHEDULER_PER_APP_CONCURRENCY", 64, minimum=1),
        per_tenant_concurrency=_int(env, "SCHEDULER_PER_TENANT_CONCURRENCY", 32, minimum=1),
        claim_ahead_ms=_int(env, "SCHEDULER_CLAIM_AHEAD_MS", 20, minimum=0),
    )


def _bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name)
    try:
        value = default if not raw else int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    try:
        value = default if not raw else float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from exc
    if not 0 < value <= 900:
        raise ConfigError(f"{name} must be between 0 and 900 seconds")
    return value


def _plans(raw: str | None) -> dict[str, Plan]:
    """`SCHEDULER_PLANS`: JSON `{name: {rate, burst, dailyQuota, maxApps, maxHeaders, maxHeaderBytes,
    maxApiKeys, maxSchedules, minIntervalSeconds}}` or
    `@path` of such a file, over the defaults."""
    plans = dict(DEFAULT_PLANS)
    if not raw:
        return plans
    try:
        text = Path(raw[1:]).read_text() if raw.startswith("@") else raw
        spec = json.loads(text)
        for name, limits in spec.items():
            plans[name] = Plan(
                name,
                limits.get("rate"),
                limits.get("burst"),
                limits.get("dailyQuota"),
                max_apps=limits.get("maxApps"),
                max_headers=limits.get("maxHeaders"),
                max_header_bytes=limits.get("maxHeaderBytes"),
                max_schedules=limits.get("maxSchedules"),
                min_interval_s=limits.get("minIntervalSeconds"),
                max_api_keys=limits.get("maxApiKeys"),
            )
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise ConfigError(f"SCHEDULER_PLANS is not valid: {exc}") from exc
    return plans

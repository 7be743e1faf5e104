"""What Terraform deploys, as the cost model needs it: each function's memory, architecture, tracing
mode and timeout, the log level, the release queue's batching and the API stage's tracing and access
log, read off terraform/*.tf evaluated with the variables' defaults or `envs/<env>.tfvars` on top
(`awslocal.terraform` evaluates the expressions; nothing is created: computed attributes are
placeholders, and none of the values read here depends on one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from awslocal.terraform import TF_DIR, Block, Module, parse_tfvars

FACTS = {"account_id": "123456789012", "region": "us-east-1", "partition": "aws"}


class _Computed(dict[str, Any]):
    """Any computed attribute of a resource that is not created: a placeholder string."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__()
        self._where = f"{kind}.{name}"

    def __missing__(self, key: str) -> str:
        return f"<{self._where}.{key}>"


class _Placeholders:
    """A provider that creates nothing."""

    def computed(self, kind: str, name: str, args: Block) -> dict[str, Any]:
        return _Computed(kind, name)


@dataclass(frozen=True)
class Function:
    """One Lambda function's billed shape."""

    memory_mb: int
    architecture: str
    tracing: str  # Lambda's tracing_config mode: Active or PassThrough
    timeout_s: int


@dataclass(frozen=True)
class Deployed:
    """The values of one deployment that its cost depends on."""

    env: str | None
    functions: dict[str, Function]
    log_level: str
    release_batch_size: int
    batching_window_s: int
    api_tracing: bool
    access_log_format: str | None
    meter_batch_size: int = 100
    meter_batching_window_s: int = 0

    @property
    def traced(self) -> bool:
        """Whether anything records X-Ray traces by itself (Active functions or a traced stage)."""
        return self.api_tracing or any(f.tracing == "Active" for f in self.functions.values())


def module(env: str | None) -> Module:
    """terraform/ evaluated for `env` (None: the variables' defaults)."""
    overrides = parse_tfvars(TF_DIR / "envs" / f"{env}.tfvars") if env else {}
    return Module(_Placeholders(), FACTS, overrides)


def deployed(env: str | None) -> Deployed:
    """What `terraform apply [-var-file=envs/<env>.tfvars]` deploys, as far as cost goes."""
    found = module(env)
    functions = {}
    for key, resource in found.resources("aws_lambda_function").items():
        tracing = resource.args.get("tracing_config") or []
        (architecture,) = resource.args.get("architectures") or ["x86_64"]
        functions[key] = Function(
            memory_mb=int(resource.args.get("memory_size", 128)),
            architecture=str(architecture),
            tracing=str(tracing[0]["mode"]) if tracing else "PassThrough",
            timeout_s=int(resource.args.get("timeout", 3)),
        )
    mapping = found.resource("aws_lambda_event_source_mapping", "release").args
    meter = found.resource("aws_lambda_event_source_mapping", "meter").args
    stage = found.resource("aws_api_gateway_stage", "this").args
    access = stage.get("access_log_settings") or []
    return Deployed(
        env=env,
        functions=functions,
        log_level=str(found.locals["common_env"]["POWERTOOLS_LOG_LEVEL"]),
        release_batch_size=int(mapping.get("batch_size", 10)),
        batching_window_s=int(mapping.get("maximum_batching_window_in_seconds", 0)),
        api_tracing=bool(stage.get("xray_tracing_enabled", False)),
        access_log_format=str(access[0]["format"]) if access else None,
        meter_batch_size=int(meter.get("batch_size", 100)),
        meter_batching_window_s=int(meter.get("maximum_batching_window_in_seconds", 0)),
    )

"""What Terraform deploys, read off the evaluated module: the functions (handler, environment, timeout,
memory, concurrency, dead-letter target), the SQS and DynamoDB stream event source mappings, the
scheduled rules, the
API stage (throttle, key source, gateway responses) and the usage plans.

`apply(module)` creates every resource moto can hold and returns the `Deployment`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from awslocal.terraform import Module

# Resource types created in moto; everything they reference is created first, on demand.
CREATED = (
    "aws_dynamodb_table",
    "aws_sqs_queue",
    "aws_sqs_queue_redrive_allow_policy",
    "aws_scheduler_schedule_group",
    "aws_kms_key",
    "aws_kms_alias",
    "aws_api_gateway_usage_plan",
)


@dataclass(frozen=True)
class Function:
    """One Lambda function as Terraform defines it."""

    key: str  # the resource name (api_handler, deliver, ...)
    name: str
    arn: str
    handler: str
    timeout_s: int
    memory_mb: int
    environment: dict[str, str]
    reserved_concurrency: int | None = None
    dead_letter_arn: str | None = None


@dataclass(frozen=True)
class QueueMapping:
    """An SQS event source mapping."""

    queue_arn: str
    function: str  # Function.key
    batch_size: int
    batching_window_s: int
    report_failures: bool
    max_concurrency: int | None


@dataclass(frozen=True)
class StreamMapping:
    """A DynamoDB stream event source mapping (filters decoded from their patterns)."""

    stream_arn: str
    function: str  # Function.key
    batch_size: int
    filters: list[dict[str, Any]]
    batching_window_s: int = 0


@dataclass(frozen=True)
class Rule:
    """An EventBridge rule on a schedule (`rate(...)`) with its function targets."""

    name: str
    arn: str
    every_s: int
    functions: list[str]


@dataclass(frozen=True)
class UsagePlan:
    """A usage plan's id and limits."""

    id: str
    name: str
    rate: float | None
    burst: int | None
    daily_quota: int | None


@dataclass(frozen=True)
class GatewayResponse:
    """One API Gateway gateway response (status may be None: it keeps the error's own)."""

    status: int | None
    headers: dict[str, str]
    body: str


@dataclass(frozen=True)
class Stage:
    """The REST API stage."""

    name: str
    api_key_source: str
    throttle_rate: float | None
    throttle_burst: int | None
    responses: dict[str, GatewayResponse]


@dataclass(frozen=True)
class Deployment:
    """Everything the drivers need."""

    functions: dict[str, Function]
    queues: dict[str, str]  # queue ARN -> URL
    mappings: list[QueueMapping]
    rules: list[Rule]
    usage_plans: dict[str, UsagePlan]  # plan name -> plan
    stage: Stage
    created: list[str] = field(default_factory=list)
    stream_mappings: list[StreamMapping] = field(default_factory=list)

    def function_by_arn(self, arn: str) -> Function | None:
        """The function an ARN names (or a qualified ARN of it)."""
        return next((f for f in self.functions.values() if arn in (f.arn, f"{f.arn}:$LATEST")), None)


def apply(module: Module) -> Deployment:
    """Create the resources moto can hold, then read the deployment off the module."""
    for kind in CREATED:
        for resource in module.resources(kind).values():
            resource.computed()
    queues = {q["arn"]: q["url"] for q in module.resources("aws_sqs_queue").values()}
    functions = {key: _function(key, r) for key, r in module.resources("aws_lambda_function").items()}
    by_arn = {f.arn: f.key for f in functions.values()}
    sources = list(module.resources("aws_lambda_event_source_mapping").values())
    streams = [r for r in sources if ":dynamodb:" in str(r["event_source_arn"])]
    return Deployment(
        functions=functions,
        queues=queues,
        mappings=[_mapping(r, by_arn) for r in sources if r not in streams],
        stream_mappings=[_stream_mapping(r, by_arn) for r in streams],
        rules=_rules(module, by_arn),
        usage_plans=_plans(module),
        stage=_stage(module),
    )


def _function(key: str, resource: Mapping[str, Any]) -> Function:
    environment = resource["environment"][0]["variables"] if resource.get("environment") else {}
    dead_letter = resource.get("dead_letter_config") or []
    reserved = resource.get("reserved_concurrent_executions")
    return Function(
        key=key,
        name=str(resource["function_name"]),
        arn=str(resource["arn"]),
        handler=str(resource["handler"]),
        timeout_s=int(resource.get("timeout", 3)),
        memory_mb=int(resource.get("memory_size", 128)),
        environment={k: str(v) for k, v in environment.items()},
        reserved_concurrency=None if reserved is None or reserved < 0 else int(reserved),
        dead_letter_arn=str(dead_letter[0]["target_arn"]) if dead_letter else None,
    )


def _mapping(resource: Mapping[str, Any], by_arn: Mapping[str, str]) -> QueueMapping:
    scaling = resource.get("scaling_config") or []
    return QueueMapping(
        queue_arn=str(resource["event_source_arn"]),
        function=by_arn[str(resource["function_name"])],
        batch_size=int(resource.get("batch_size", 10)),
        batching_window_s=int(resource.get("maximum_batching_window_in_seconds", 0)),
        report_failures="ReportBatchItemFailures" in (resource.get("function_response_types") or []),
        max_concurrency=int(scaling[0]["maximum_concurrency"]) if scaling else None,
    )


def _stream_mapping(resource: Mapping[str, Any], by_arn: Mapping[str, str]) -> StreamMapping:
    criteria = resource.get("filter_criteria") or [{}]
    patterns = [f["pattern"] for f in criteria[0].get("filter", [])]
    return StreamMapping(
        stream_arn=str(resource["event_source_arn"]),
        function=by_arn[str(resource["function_name"])],
        batch_size=int(resource.get("batch_size", 100)),
        filters=[json.loads(p) if isinstance(p, str) else dict(p) for p in patterns],
        batching_window_s=int(resource.get("maximum_batching_window_in_seconds", 0)),
    )


_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


def _rules(module: Module, by_arn: Mapping[str, str]) -> list[Rule]:
    targets = module.resources("aws_cloudwatch_event_target").values()
    rules = []
    for resource in module.resources("aws_cloudwatch_event_rule").values():
        match = _RATE.fullmatch(str(resource.get("schedule_expression", "")))
        if match is None:
            continue
        every = int(match.group(1)) * _UNIT_S[match.group(2).rstrip("s")]
        name = str(resource["name"])
        functions = [by_arn[t["arn"]] for t in targets if t["rule"] == name and t["arn"] in by_arn]
        arn = f"arn:aws:events:{module.scope.lookup('data')['aws_region']['current']['region']}:" + (
            f"{module.scope.lookup('data')['aws_caller_identity']['current']['account_id']}:rule/{name}"
        )
        rules.append(Rule(name, arn, every, functions))
    return rules


def _plans(module: Module) -> dict[str, UsagePlan]:
    plans = {}
    for key, plan in module.scope.lookup("aws_api_gateway_usage_plan")["this"].items():
        throttle = (plan.get("throttle_settings") or [{}])[0]
        quota = (plan.get("quota_settings") or [{}])[0]
        plans[key] = UsagePlan(
            id=str(plan["id"]),
            name=str(plan["name"]),
            rate=float(throttle["rate_limit"]) if "rate_limit" in throttle else None,
            burst=int(throttle["burst_limit"]) if "burst_limit" in throttle else None,
            daily_quota=int(quota["limit"]) if "limit" in quota else None,
        )
    return plans


def _stage(module: Module) -> Stage:
    stage = module.resource("aws_api_gateway_stage", "this")
    api = module.resource("aws_api_gateway_rest_api", "this")
    settings = (module.resource("aws_api_gateway_method_settings", "all").get("settings") or [{}])[0]
    responses = {}
    for kind, spec in module.locals["gateway_responses"].items():
        parameters = spec.get("responseParameters", {})
        headers = {name.removeprefix("gatewayresponse.header."): value.strip("'") for name, value in parameters.items()}
        status = spec.get("statusCode")
        responses[kind] = GatewayResponse(
            None if status is None else int(status), headers, spec["responseTemplates"]["application/json"]
        )
    return Stage(
        name=str(stage["stage_name"]),
        api_key_source=str(api.get("api_key_source", "HEADER")),
        throttle_rate=settings.get("throttling_rate_limit"),
        throttle_burst=settings.get("throttling_burst_limit"),
        responses=responses,
    )

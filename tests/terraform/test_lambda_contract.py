"""The functions of terraform/lambda.tf are the functions of the Chalice app: same handlers, every
environment variable their code needs, the triggers the code expects (partial batch responses, the
cleanup rate) and timeouts that keep the engine's promises."""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from chalicelib import observability
from chalicelib.settings import DEFAULT_PLANS
from tests.terraform.hcl import ROOT, env_map, one, stack, unwrap

FUNCTIONS = ["api_handler", "authorizer", "deliver", "cleanup", "post_confirmation", "meter"]

# Modules whose environment reads happen in the Lambdas (the local server, CLI and client read others).
LAMBDA_MODULES = [
    "chalicelib/settings.py",
    "chalicelib/observability.py",
    "chalicelib/authorizer.py",
    "chalicelib/triggers.py",
    "chalicelib/bootstrap.py",
    "chalicelib/console/config.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "chalicelib/adapters/aws").glob("*.py")),
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "chalicelib/api").glob("*.py")),
]

# Variables the code reads that are deliberately left unset on AWS, and why.
UNSET_ON_AWS = {
    "SCHEDULER_DATA_DIR": "local SQLite directory",
    "SCHEDULER_ADMIN_KEY": "local bootstrap key; on AWS tenants sign up or are made with the operator key",
    "SCHEDULER_OPERATOR_KEY": "local operator key; on AWS only its hash is deployed (SCHEDULER_OPERATOR_KEY_HASH)",
    "SCHEDULER_DELIVERY_CONCURRENCY": "local delivery pool; on AWS the event source mapping's maximum concurrency",
    "SCHEDULER_PER_APP_CONCURRENCY": "local delivery pool",
    "SCHEDULER_CLAIM_AHEAD_MS": "local engine; on AWS the release queue's delay is the timer",
    "SCHEDULER_ALLOW_PRIVATE_TARGETS": "defaults to false when SCHEDULER_BACKEND=aws: the SSRF guard is on",
}
SET_BY_LAMBDA = {"AWS_REGION", "AWS_DEFAULT_REGION"}
# Variables a library reads for us (set in Terraform, read by no line of ours).
READ_BY_LIBRARIES = {"POWERTOOLS_LOG_LEVEL": "Powertools Logger's level"}
ENV_NAME = re.compile(r"^(SCHEDULER|POWERTOOLS|AWS)_[A-Z0-9_]+$")


def env_reads() -> set[str]:
    """Environment variable names the Lambda code reads: string constants passed to a call or used as a
    subscript (``env.get("X")``, ``os.environ["X"]``, ``_int(env, "X", ...)``), docstrings excluded."""
    names: set[str] = set()
    for module in LAMBDA_MODULES:
        tree = ast.parse((ROOT / module).read_text())
        for node in ast.walk(tree):
            candidates: list[ast.expr] = []
            if isinstance(node, ast.Call):
                candidates = list(node.args)
            elif isinstance(node, ast.Subscript):
                candidates = [node.slice]
            for arg in candidates:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and ENV_NAME.match(arg.value):
                    names.add(arg.value)
    return names


def function(name: str) -> dict[str, Any]:
    return stack().resource("aws_lambda_function", name)


def environment(name: str) -> dict[str, str]:
    return env_map(one(function(name), "environment")["variables"], stack().locals)


def declared_by_chalice_config() -> dict[str, set[str]]:
    """Per function, the variables `.chalice/config.json` declares (the AWS code's own list)."""
    config = json.loads((ROOT / ".chalice/config.json").read_text())
    declared: dict[str, set[str]] = {}
    for stage in config.get("stages", {}).values():
        common = set(stage.get("environment_variables", {}))
        for key, settings in stage.get("lambda_functions", {}).items():
            declared.setdefault(key, set()).update(common | set(settings.get("environment_variables", {})))
    return declared


# ---- handlers ------------------------------------------------------------------------------


def chalice_handlers() -> dict[str, str]:
    """Function key -> handler string, as `chalice package` generates them from the app."""
    from app import app

    handlers = {"api_handler": "app.app"}
    handlers.update({f.name: f.handler_string for f in app.pure_lambda_functions})
    handlers.update({e.name: e.handler_string for e in app.event_sources})
    handlers.update({a.name: a.handler_string for a in app.builtin_auth_handlers})
    return handlers


def test_terraform_deploys_every_function_of_the_app_and_no_other() -> None:
    assert sorted(stack().of_kind("aws_lambda_function")) == sorted(chalice_handlers())


@pytest.mark.parametrize("name", FUNCTIONS)
def test_handler_is_the_apps(name: str) -> None:
    handler = function(name)["handler"]
    assert handler == chalice_handlers()[name]
    module, _, attribute = handler.rpartition(".")
    assert callable(getattr(importlib.import_module(module), attribute))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_runs_the_package_on_python_311(name: str) -> None:
    resource = function(name)
    assert resource["runtime"] == "python3.11"
    assert unwrap(resource["filename"]) == "local.package_zip"
    assert unwrap(resource["source_code_hash"]) == "filebase64sha256(local.package_zip)"
    assert unwrap(resource["role"]) == f'aws_iam_role.function["{name}"].arn'
    assert one(resource, "tracing_config") == {"mode": "Active"}


# ---- environment ---------------------------------------------------------------------------


def test_the_code_reads_what_this_test_knows_about() -> None:
    """A new variable in the code fails here until Terraform sets it or UNSET_ON_AWS says why not."""
    set_somewhere = set().union(*(environment(name) for name in FUNCTIONS))
    unknown = env_reads() - set_somewhere - set(UNSET_ON_AWS) - SET_BY_LAMBDA
    assert not unknown, f"read by the code, set by no function in terraform/lambda.tf: {sorted(unknown)}"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_terraform_sets_only_variables_the_code_reads(name: str) -> None:
    assert set(environment(name)) - env_reads() - set(READ_BY_LIBRARIES) == set()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_terraform_sets_what_the_chalice_config_declares_for_the_function(name: str) -> None:
    declared = declared_by_chalice_config().get(name, set())
    assert declared - set(environment(name)) == set()


def aws_config_settings() -> dict[str, str]:
    """`AwsConfig` field -> the environment variable `aws_config_from` reads it from."""
    tree = ast.parse((ROOT / "chalicelib/adapters/aws/config.py").read_text())
    variables = {}  # local variable of aws_config_from -> env name (e.g. `group`)
    fields = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            found = _env_name(node.value)
            if found and isinstance(node.targets[0], ast.Name):
                variables[node.targets[0].id] = found
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "AwsConfig":
            for keyword in node.keywords:
                found = _env_name(keyword.value) or next(
                    (variables[n.id] for n in ast.walk(keyword.value) if isinstance(n, ast.Name) and n.id in variables),
                    None,
                )
                if found and keyword.arg:
                    fields[keyword.arg] = found
    return fields


def _env_name(node: ast.AST) -> str | None:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Constant) and isinstance(inner.value, str) and ENV_NAME.match(inner.value):
            return inner.value
    return None


def required_settings() -> set[str]:
    """Fields the AWS code `require()`s: unset, the call fails."""
    fields = set()
    for path in (ROOT / "chalicelib/adapters/aws").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "require"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                fields.add(str(node.args[0].value))
    return fields


def test_required_settings_are_set_for_every_function_that_arms_or_seals() -> None:
    settings = aws_config_settings()
    required = {settings[field] for field in required_settings()}
    assert required, "no require() calls found: did the AWS config change?"
    timer_users = ["api_handler", "deliver", "cleanup"]
    for name in timer_users:
        # every one builds the delivery queue, whose app store is made with the KMS key id (cleanup too)
        missing = required - set(environment(name))
        assert not missing, f"{name} arms messages but lacks {sorted(missing)}"
    for name in ["api_handler", "deliver"]:  # seal (API) and open (delivery) app secrets
        assert "SCHEDULER_KMS_KEY_ID" in environment(name)


def test_values_follow_the_naming_the_code_expects() -> None:
    common = stack().locals["common_env"]
    assert common["SCHEDULER_BACKEND"] == "aws"
    assert unwrap(common["SCHEDULER_TABLE_PREFIX"]) == "local.name"
    assert unwrap(common["POWERTOOLS_METRICS_NAMESPACE"]) == "local.metrics_namespace"
    assert stack().locals["metrics_namespace"] == observability.NAMESPACE
    for name in ["api_handler", "deliver", "cleanup"]:
        env = environment(name)
        assert unwrap(env["SCHEDULER_SCHEDULE_GROUP"]) == "aws_scheduler_schedule_group.this.name"
        assert unwrap(env["SCHEDULER_DELIVERY_FUNCTION_ARN"]) == "local.function_arns.deliver"
        assert unwrap(env["SCHEDULER_RELEASE_QUEUE_URL"]) == "aws_sqs_queue.release.url"
    assert unwrap(function("deliver")["function_name"]) == "local.function_names.deliver"


def test_plan_defaults_are_the_apps() -> None:
    [default] = [stack().variables["plans"]["default"]]
    expected = {
        name: {
            k: v
            for k, v in {
                "rate": p.rate_per_s,
                "burst": p.burst,
                "daily_quota": p.daily_quota,
                "max_apps": p.max_apps,
                "max_headers": p.max_headers,
                "max_header_bytes": p.max_header_bytes,
                "max_api_keys": p.max_api_keys,
            }.items()
            if v is not None
        }
        for name, p in DEFAULT_PLANS.items()
    }
    assert default == expected


# ---- triggers and timeouts -----------------------------------------------------------------


def test_the_release_queue_feeds_the_delivery_function_with_partial_batch_responses() -> None:
    mapping = stack().resource("aws_lambda_event_source_mapping", "release")
    assert unwrap(mapping["event_source_arn"]) == "aws_sqs_queue.release.arn"
    assert unwrap(mapping["function_name"]) == "aws_lambda_function.deliver.arn"
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]


def test_cleanup_runs_at_the_rate_the_app_declares() -> None:
    from app import app

    [source] = [e for e in app.event_sources if e.name == "cleanup"]
    rule = stack().resource("aws_cloudwatch_event_rule", "cleanup")
    assert rule["schedule_expression"] == source.schedule_expression.to_string()
    target = stack().resource("aws_cloudwatch_event_target", "cleanup")
    assert unwrap(target["arn"]) == "aws_lambda_function.cleanup.arn"


def _validation_max(variable: str) -> float:
    condition = unwrap(one(stack().variables[variable], "validation")["condition"])
    return float(re.findall(r"<=\s*([0-9.]+)", condition)[-1])


def test_timeouts_keep_the_engines_promises() -> None:
    timeouts = stack().locals["function_timeouts"]
    variables = stack().variables
    deliver = timeouts["deliver"]
    # the function outlives the longest attempt deadline the variable allows
    assert deliver > _validation_max("delivery_timeout_s")
    # a claim's lease outlives the function that holds it
    assert variables["lease_s"]["default"] > deliver
    # the release queue hides a record for 6 function timeouts (AWS's advice for event source mappings)
    queue = stack().resource("aws_sqs_queue", "release")
    assert unwrap(queue["visibility_timeout_seconds"]) == "6 * local.function_timeouts.deliver"
    # API Gateway waits 29 s at most; Cognito waits 5 s for a trigger
    assert timeouts["api_handler"] <= 29
    assert timeouts["post_confirmation"] <= 5
    assert 60 <= variables["lead_s"]["default"] <= 600


def test_the_delivery_function_dead_letters_failed_schedule_invocations() -> None:
    assert unwrap(one(function("deliver"), "dead_letter_config")["target_arn"]) == "aws_sqs_queue.schedule_dlq.arn"


def test_the_post_confirmation_trigger_is_wired_to_the_user_pool() -> None:
    pool = stack().resource("aws_cognito_user_pool", "this")
    assert unwrap(one(pool, "lambda_config")["post_confirmation"]) == "aws_lambda_function.post_confirmation.arn"
    permission = stack().resource("aws_lambda_permission", "post_confirmation")
    assert permission["principal"] == "cognito-idp.amazonaws.com"
    assert unwrap(permission["source_arn"]) == "aws_cognito_user_pool.this.arn"


def test_the_authorizer_trusts_this_pools_client() -> None:
    env = environment("authorizer")
    assert unwrap(env["SCHEDULER_COGNITO_USER_POOL_ID"]) == "aws_cognito_user_pool.this.id"
    assert unwrap(env["SCHEDULER_COGNITO_CLIENT_IDS"]) == "aws_cognito_user_pool_client.this.id"


def test_chalice_config_file_is_where_the_test_looks() -> None:
    assert Path(ROOT / ".chalice/config.json").is_file()


def test_the_arm_horizon_is_a_terraform_variable_that_every_arming_function_gets() -> None:
    from chalicelib.adapters.aws.config import aws_config_from
    from tests.terraform.tfvars import deployment

    for name in ["api_handler", "deliver", "cleanup"]:
        assert unwrap(environment(name)["SCHEDULER_ARM_HORIZON_S"]) == "local.arm_horizon_env"
    assert unwrap(stack().locals["arm_horizon_env"]) == 'var.arm_horizon_s == 0 ? "" : tostring(var.arm_horizon_s)'
    default = deployment()["arm_horizon_s"]
    assert aws_config_from({"SCHEDULER_ARM_HORIZON_S": str(default)}).arm_horizon_s == default
    assert aws_config_from({"SCHEDULER_ARM_HORIZON_S": ""}).arm_horizon_s is None  # 0 in Terraform: off


def test_the_messages_stream_feeds_the_meter_with_the_codes_filters_and_exactly_once_settings() -> None:
    """The meter counts each record once only if a failed batch is retried whole, from the same
    record, one batch of a shard at a time, never skipped (chalicelib/adapters/aws/meter.py)."""
    from chalicelib.adapters.aws import meter

    mapping = stack().resource("aws_lambda_event_source_mapping", "meter")
    assert unwrap(mapping["event_source_arn"]) == "aws_dynamodb_table.messages.stream_arn"
    assert unwrap(mapping["function_name"]) == "aws_lambda_function.meter.arn"
    assert mapping["batch_size"] == meter.BATCH_SIZE <= 10_000  # AWS's maximum for DynamoDB streams
    assert mapping["bisect_batch_on_function_error"] is False
    assert mapping["parallelization_factor"] == 1
    assert mapping["maximum_retry_attempts"] == -1 and mapping["maximum_record_age_in_seconds"] == -1
    assert "function_response_types" not in mapping  # no partial batch responses: the checkpoint stays put
    patterns = [json.loads(unwrap_json(f["pattern"])) for f in one(mapping, "filter_criteria")["filter"]]
    assert patterns == meter.FILTERS
    assert len(patterns) <= 5  # Lambda's default quota of filters per mapping
    messages = stack().resource("aws_dynamodb_table", "messages")
    assert messages["stream_enabled"] is True and messages["stream_view_type"] == "NEW_AND_OLD_IMAGES"
    assert stack().locals["function_timeouts"]["meter"] >= 30


def unwrap_json(expression: Any) -> str:
    """The JSON text of a `jsonencode({...})` pattern (HCL object syntax: `=` for `:`, bare keys)."""
    text = unwrap(expression)
    text = text.removeprefix("jsonencode(").removesuffix(")")
    text = re.sub(r"([{,\s])([A-Za-z_]\w*)\s*=", r'\1"\2":', text)
    text = re.sub(r"\}\s*\n\s*\"", '}, "', text)
    text = re.sub(r"\]\s*\n\s*\"", '], "', text)
    return text


def test_recurring_schedule_names_are_the_ones_iam_grants_and_never_a_messages() -> None:
    from fnmatch import fnmatchcase

    from chalicelib.adapters.aws import timing
    from chalicelib.adapters.aws.schedule_timer import chained_name, native_name

    granted = unwrap(stack().locals["recurring_schedules"])
    assert granted.endswith("/r-*") and unwrap(stack().locals["schedules_of_messages"]).endswith("/m-*")
    schedule_id = "sch_01J00000000000000000000000"
    for name in (native_name(schedule_id), chained_name(schedule_id, 4_102_444_800_000)):
        assert fnmatchcase(name, "r-*") and not fnmatchcase(name, "m-*")
        assert timing.parse_schedule_name(name) is None  # cleanup's sweep of message schedules leaves it
    for function in ("api_handler", "deliver", "cleanup"):  # they arm recurring schedules: the timer's settings
        env = environment(function)
        assert {"SCHEDULER_DELIVERY_FUNCTION_ARN", "SCHEDULER_SCHEDULER_ROLE_ARN"} <= set(env), function

"""AWS's documented rules that moto does not enforce, in one place; each cites its page.

Three kinds of check: (1) `tests/aws/rules.py` (installed on every test session) rejects what AWS
rejects, and these tests prove each rule bites; (2) the code's own validators agree with AWS's
published API model (botocore ships it) and its timing rules never produce a value AWS refuses;
(3) terraform/ deploys what the services require (Scheduler's execution role, Lambda's environment
size, API Gateway's limits), for the default deployment and prod.tfvars.
"""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.adapters.aws import limits, timing
from chalicelib.adapters.aws.dynamo import to_item
from chalicelib.api.routes_messages import MAX_BATCH_BODY_BYTES
from chalicelib.authorizer import TTL_S
from tests.aws import rules, support
from tests.terraform.hcl import env_map, one, stack, unwrap
from tests.terraform.iam import statements
from tests.terraform.tfvars import ENVIRONMENTS, deployment

DOCS = {
    "scheduler_api": "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html",
    "schedule_types": "https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#one-time",
    "confused_deputy": "https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html",
    "execution_role": "https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role",
    "schedule_dlq": "https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html",
    "sqs_send": "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html",
    "sqs_quotas": "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
    "ddb_transact": "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html",
    "ddb_quotas": "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html",
    "lambda_quotas": "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
    "apigw_quotas": "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
}


def function_env(function: str) -> dict[str, str]:
    """A function's environment in terraform/lambda.tf: name -> expression."""
    return env_map(one(stack().resource("aws_lambda_function", function), "environment")["variables"], stack().locals)


def rejected(service: str, operation: str, params: dict[str, Any]) -> str:
    with pytest.raises(ClientError) as caught:
        rules.check(service, operation, params)
    return str(caught.value.response["Error"]["Code"])


def schedule_call(**changes: Any) -> dict[str, Any]:
    call = {
        "Name": "m-01J00000000000000000000000-1",
        "GroupName": "scheduler-prod",
        "ScheduleExpression": "at(2030-01-01T00:00:00)",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ClientToken": "m-01J00000000000000000000000-1",
        "Target": {"Arn": support.DELIVERY_ARN, "RoleArn": support.ROLE_ARN},
    }
    call.update(changes)
    return call


# ---- EventBridge Scheduler: names and at() (DOCS scheduler_api, schedule_types) ---------------------


def test_scheduler_names_follow_the_published_api_model() -> None:
    """The API model botocore ships is the API reference's constraints (DOCS scheduler_api)."""
    shape = botocore.session.get_session().get_service_model("scheduler").operation_model("CreateSchedule")
    members = shape.input_shape.members
    for field in ("Name", "GroupName"):
        assert members[field].metadata == {"min": 1, "max": limits.SCHEDULE_NAME_MAX, "pattern": "[0-9a-zA-Z-_.]+"}
    assert members["ClientToken"].metadata["pattern"] == "[a-zA-Z0-9-_]+"
    assert members["ScheduleExpression"].metadata["max"] == limits.SCHEDULE_EXPRESSION_MAX


@pytest.mark.parametrize(
    "changes",
    [
        {"Name": "m-" + "x" * 63},  # 65 characters
        {"Name": "m/01J"},
        {"Name": ""},
        {"GroupName": "group with spaces"},
        {"ClientToken": "has.a.dot"},  # a dot is fine in a name, not in a client token
        {"ScheduleExpression": "at(2030-02-30T00:00:00)"},
        {"ScheduleExpression": "at(2030-01-01T00:00)"},
        {"ScheduleExpression": "at(2030-01-01T00:00:00Z)"},
        {"ScheduleExpression": "at(2030-01-01 00:00:00)"},
        {"Target": {"Arn": support.DELIVERY_ARN}},
    ],
)
def test_scheduler_rejects_what_aws_rejects(changes: dict[str, Any]) -> None:
    assert rejected("scheduler", "CreateSchedule", schedule_call(**changes)) == "ValidationException"
    rules.check("scheduler", "CreateSchedule", schedule_call())  # the unchanged call is fine


@given(st.integers(min_value=0, max_value=10**13), st.integers(min_value=1, max_value=10**6))
def test_every_schedule_the_code_names_and_times_is_one_aws_accepts(at_ms: int, gen: int) -> None:
    name = timing.schedule_name("msg_01J00000000000000000000000", gen)
    expression = timing.at_expression(at_ms)
    rules.check(
        "scheduler", "CreateSchedule", schedule_call(Name=name, ClientToken=name, ScheduleExpression=expression)
    )


def test_the_moto_sessions_of_the_tests_enforce_the_rules() -> None:
    """Every session `support.session()` makes has the rules on: moto alone would accept this."""
    with support.aws_env():
        from moto import mock_aws

        with mock_aws():
            sqs = support.session().client("sqs")
            url = sqs.create_queue(QueueName="q")["QueueUrl"]
            with pytest.raises(ClientError) as caught:
                sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"


# ---- EventBridge Scheduler: the execution role (DOCS confused_deputy, execution_role, schedule_dlq) ---


def test_the_scheduler_role_trusts_scheduler_from_this_account_and_schedule_group_only() -> None:
    """'Do not scope the aws:SourceArn statement to a specific schedule or a schedule name prefix.
    The ARN you specify must be a schedule group.' (DOCS confused_deputy). A schedule ARN there means
    Scheduler cannot assume the role: no message due beyond 14 minutes would ever be armed."""
    [assume] = statements("scheduler_assume")
    assert assume.actions == ("sts:AssumeRole",)
    principals = one(stack().data["aws_iam_policy_document"]["scheduler_assume"]["statement"][0], "principals")
    assert principals == {"type": "Service", "identifiers": ["scheduler.amazonaws.com"]}
    conditions = {c["variable"]: c for c in assume.conditions}
    assert set(conditions) == {"aws:SourceAccount", "aws:SourceArn"}
    assert conditions["aws:SourceAccount"]["test"] == "StringEquals"
    assert [unwrap(v) for v in conditions["aws:SourceAccount"]["values"]] == ["local.account_id"]
    source = conditions["aws:SourceArn"]
    assert source["test"] in ("StringEquals", "ArnEquals")
    assert [unwrap(v) for v in source["values"]] == ["aws_scheduler_schedule_group.this.arn"]
    assert stack().resource("aws_scheduler_schedule_group", "this")["name"] == "${local.schedule_group_name}"


def test_the_scheduler_role_may_do_what_each_schedule_target_needs() -> None:
    """The execution role needs lambda:InvokeFunction on a Lambda target (DOCS execution_role) and
    sqs:SendMessage on the schedule's dead-letter queue (DOCS schedule_dlq): the very resources the
    code puts in `Target.Arn` and `DeadLetterConfig.Arn` (from the functions' environment)."""
    grants = set().union(*(s.grants() for s in statements("scheduler")))
    for function in ("api_handler", "deliver", "cleanup"):
        env = env_map(
            one(stack().resource("aws_lambda_function", function), "environment")["variables"], stack().locals
        )
        assert unwrap(env["SCHEDULER_DELIVERY_FUNCTION_ARN"]) == "local.function_arns.deliver"
        assert unwrap(env["SCHEDULER_SCHEDULE_DLQ_ARN"]) == "aws_sqs_queue.schedule_dlq.arn"
        assert unwrap(env["SCHEDULER_SCHEDULER_ROLE_ARN"]) == "aws_iam_role.scheduler.arn"
    assert ("lambda:InvokeFunction", "function/deliver") in grants
    assert ("sqs:SendMessage", "queue/schedule_dlq") in grants


# ---- SQS (DOCS sqs_send, sqs_quotas) ----------------------------------------------------------------


@pytest.mark.parametrize("delay", [-1, 901, 3600])
def test_sqs_rejects_delays_over_fifteen_minutes(delay: int) -> None:
    assert rejected("sqs", "SendMessage", {"MessageBody": "{}", "DelaySeconds": delay}) == "InvalidParameterValue"
    batch = {"Entries": [{"Id": "0", "MessageBody": "{}", "DelaySeconds": delay}]}
    assert rejected("sqs", "SendMessageBatch", batch) == "InvalidParameterValue"


def test_sqs_rejects_messages_and_batches_over_256_kib() -> None:
    big = "x" * (limits.SQS_MAX_MESSAGE_BYTES + 1)
    assert rejected("sqs", "SendMessage", {"MessageBody": big}) == "InvalidParameterValue"
    halves = [{"Id": str(n), "MessageBody": "x" * (limits.SQS_MAX_MESSAGE_BYTES // 2 + 1)} for n in range(2)]
    assert rejected("sqs", "SendMessageBatch", {"Entries": halves}) == "BatchRequestTooLong"
    eleven = [{"Id": str(n), "MessageBody": "{}"} for n in range(11)]
    assert rejected("sqs", "SendMessageBatch", {"Entries": eleven}) == "TooManyEntriesInBatchRequest"


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_the_release_delay_is_always_one_sqs_accepts(ahead_ms: int) -> None:
    now = 1_800_000_000_000
    rules.check(
        "sqs", "SendMessage", {"MessageBody": "{}", "DelaySeconds": timing.release_delay_s(now + ahead_ms, now)}
    )


def test_a_timer_body_is_far_below_the_message_limit() -> None:
    from chalicelib.adapters.aws.timer import timer_body

    body = timer_body("t" * 200, "msg_01J00000000000000000000000", 10**12, 10**15)
    assert len(body.encode()) * limits.SQS_MAX_BATCH_ENTRIES < limits.SQS_MAX_MESSAGE_BYTES


# ---- DynamoDB (DOCS ddb_transact, ddb_quotas) --------------------------------------------------------


def put(n: int, body_bytes: int = 10) -> dict[str, Any]:
    return {"Put": {"TableName": "t", "Item": to_item({"pk": f"k{n}", "sk": "m", "body": "x" * body_bytes})}}


def test_dynamodb_rejects_transactions_over_100_items_or_4_mb() -> None:
    assert rejected("dynamodb", "TransactWriteItems", {"TransactItems": [put(n) for n in range(101)]})
    rules.check("dynamodb", "TransactWriteItems", {"TransactItems": [put(n) for n in range(100)]})
    eleven_big = [put(n, 390 * 1024) for n in range(11)]  # 11 x 390 KB > 4 MB, each item < 400 KB
    assert rejected("dynamodb", "TransactWriteItems", {"TransactItems": eleven_big}) == "ValidationException"
    rules.check("dynamodb", "TransactWriteItems", {"TransactItems": eleven_big[:10]})


def test_dynamodb_rejects_items_over_400_kb_and_two_writes_to_one_item() -> None:
    assert rejected("dynamodb", "PutItem", put(0, limits.ITEM_MAX_BYTES)["Put"]) == "ValidationException"
    assert rejected("dynamodb", "TransactWriteItems", {"TransactItems": [put(0, limits.ITEM_MAX_BYTES)]})
    assert rejected("dynamodb", "TransactWriteItems", {"TransactItems": [put(1), put(1)]})


def test_item_sizes_count_names_and_values_as_dynamodb_does() -> None:
    """Strings by UTF-8 bytes, numbers by significant digits, names included (DOCS ddb_quotas)."""
    assert limits.item_size(to_item({"pk": "abc"})) == 5
    assert limits.item_size(to_item({"n": 12345})) == 1 + 4
    assert limits.item_size(to_item({"é": "é"})) == 4


def test_dynamodb_batch_reads_hold_at_most_100_keys() -> None:
    keys = {"t": {"Keys": [{"pk": {"S": str(n)}} for n in range(101)]}}
    assert rejected("dynamodb", "BatchGetItem", {"RequestItems": keys}) == "ValidationException"


# ---- Lambda: 4 KB of environment per function (DOCS lambda_quotas) -----------------------------------

ACCOUNT = "1" * 12
UUID = "0" * 36


def env_value(expression: str, values: dict[str, Any], function: str) -> str:
    """The longest value an environment expression of terraform/lambda.tf can take in a deployment
    (names from the deployment's variables; ids and ARNs at their longest documented form)."""
    name = f"{values['app_name']}-{values['stage']}"
    region = values["region"]
    text = unwrap(expression)
    resolved = {
        "local.name": name,
        "local.metrics_namespace": str(stack().locals["metrics_namespace"]),
        "aws_sqs_queue.release.url": f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{name}-release",
        "aws_scheduler_schedule_group.this.name": name,
        "local.function_arns.deliver": f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}-deliver",
        "aws_iam_role.scheduler.arn": f"arn:aws:iam::{ACCOUNT}:role/{name}-scheduler-invoke",
        "aws_sqs_queue.schedule_dlq.arn": f"arn:aws:sqs:{region}:{ACCOUNT}:{name}-schedule-dlq",
        "aws_kms_key.secrets.arn": f"arn:aws:kms:{region}:{ACCOUNT}:key/{UUID}",
        "aws_cognito_user_pool.this.id": f"{region}_{'x' * 9}",
        "aws_cognito_user_pool_client.this.id": "x" * 26,
        "local.usage_plan_ids_json": json.dumps({plan: "x" * 10 for plan in values["plans"]}, separators=(",", ":")),
        "local.plans_json": json.dumps(
            {
                plan: {"rate": v.get("rate"), "burst": v.get("burst"), "dailyQuota": v.get("daily_quota")}
                for plan, v in values["plans"].items()
            },
            separators=(",", ":"),
        ),
        "var.operator_key_hash": "0" * 64,
        "local.arm_horizon_env": str(values["arm_horizon_s"] or ""),
        "local.cognito_hosted_ui": (
            f"https://{values['cognito_domain_prefix'] or f'{name}-{ACCOUNT}'}.auth.{region}.amazoncognito.com"
        ),
    }
    if text in resolved:
        return resolved[text]
    match = re.fullmatch(r"(?:tostring\()?var\.(\w+)\)?", text)
    if match:
        return str(values[match.group(1)])
    if "${" not in str(expression) and not text.startswith(("aws_", "local.", "var.")):
        return str(expression)
    raise AssertionError(f"{function}: teach env_value the longest value of {expression!r}")


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
@pytest.mark.parametrize("function", ["api_handler", "authorizer", "deliver", "cleanup", "post_confirmation"])
def test_each_functions_environment_fits_in_4_kb(env: str, function: str) -> None:
    values = deployment(ENVIRONMENTS[env])
    variables = env_map(
        one(stack().resource("aws_lambda_function", function), "environment")["variables"], stack().locals
    )
    size = sum(len(k.encode()) + len(env_value(v, values, function).encode()) for k, v in variables.items())
    assert size <= limits.LAMBDA_ENV_MAX_BYTES, f"{function} ({env}): {size} bytes of environment"


# ---- API Gateway limits the deployment relies on (DOCS apigw_quotas, lambda_quotas) -------------------

APIGW_INTEGRATION_TIMEOUT_S = 29
APIGW_AUTHORIZER_TTL_MAX_S = 3600
APIGW_PAYLOAD_MAX_BYTES = 10 * 1024 * 1024
APIGW_USAGE_PLANS_MAX = 300
APIGW_ACCOUNT_RPS = 10_000


def test_the_api_function_answers_within_api_gateways_integration_timeout() -> None:
    assert stack().locals["function_timeouts"]["api_handler"] <= APIGW_INTEGRATION_TIMEOUT_S
    assert 0 < TTL_S <= APIGW_AUTHORIZER_TTL_MAX_S


def test_the_largest_request_body_fits_api_gateway_and_a_lambda_invocation() -> None:
    """A batch body (the largest accepted) plus the proxy event around it fits Lambda's 6 MB request
    payload; a larger body gets API Gateway's REQUEST_TOO_LARGE (mapped to our 413)."""
    envelope = 1024 * 1024  # headers, request context, and JSON escaping of the body
    assert MAX_BATCH_BODY_BYTES + envelope <= limits.LAMBDA_SYNC_PAYLOAD_MAX_BYTES <= APIGW_PAYLOAD_MAX_BYTES
    assert "REQUEST_TOO_LARGE" in stack().locals["gateway_errors"]


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_plans_and_throttles_stay_inside_the_account_quotas(env: str) -> None:
    values = deployment(ENVIRONMENTS[env])
    assert len(values["plans"]) <= APIGW_USAGE_PLANS_MAX
    assert values["api_throttle"]["rate"] <= APIGW_ACCOUNT_RPS
    for plan in values["plans"].values():
        if plan.get("rate") is not None:
            assert plan["rate"] <= values["api_throttle"]["rate"]


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 9 * * * *)",  # neither day field is ?
        "cron(0 9 ? * ? *)",  # both are
        "cron(0 9 ? * 0 *)",  # day-of-week is 1-7 (SUN-SAT)
        "cron(60 9 * * ? *)",
        "cron(0 9 * *)",  # six fields
        "cron(0 9 ? * 3#1,6#3 *)",  # one # expression only
        "cron(0 9 ? * 2#6 *)",
        "cron(0 9 32 * ? *)",
        "rate(0 minutes)",
        "rate(90 seconds)",
        "rate(2 hour)",  # plural for more than one
        "rate(1 hours)",
    ],
)
def test_scheduler_rejects_recurring_expressions_aws_rejects(expression: str) -> None:
    call = schedule_call(ScheduleExpression=expression)
    assert rejected("scheduler", "CreateSchedule", call) == "ValidationException"
    assert rejected("scheduler", "UpdateSchedule", call) == "ValidationException"


@pytest.mark.parametrize(
    "expression",
    ["cron(59 8 ? * 2-6 *)", "cron(0/15 * * * ? *)", "cron(0 9 L * ? *)", "cron(0 9 ? * 6L *)", "rate(1 minute)"],
)
def test_scheduler_accepts_the_recurring_expressions_aws_documents(expression: str) -> None:
    rules.check("scheduler", "CreateSchedule", schedule_call(ScheduleExpression=expression))

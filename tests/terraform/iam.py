"""IAM grants of terraform/iam.tf as (action, resource) pairs, and boto3 calls as the same pairs.

Resources are short keys both sides share: `table/messages`, `table/messages/index/by-wake`,
`table/messages/stream/*`, `queue/release`, `key/secrets`, `schedule/m-*`, `role/scheduler`, `apigateway/apikeys`,
`apigateway/usageplans/*/keys`, `function/deliver`, `logs/own`, `*`. Grants may hold `*` patterns
(matched with fnmatch), recorded calls are concrete.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from tests.terraform.hcl import blocks, stack, unwrap

Grant = tuple[str, str]

_RESOURCE_KEYS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^aws_dynamodb_table\.(\w+)\.arn/index/([\w-]+)$"), r"table/\1/index/\2"),
    (re.compile(r"^aws_dynamodb_table\.(\w+)\.arn$"), r"table/\1"),
    (re.compile(r"^aws_dynamodb_table\.(\w+)\.stream_arn$"), r"table/\1/stream/*"),
    (re.compile(r"^aws_sqs_queue\.(\w+)\.arn$"), r"queue/\1"),
    (re.compile(r"^aws_kms_key\.(\w+)\.arn$"), r"key/\1"),
    (re.compile(r"^aws_iam_role\.(\w+)\.arn$"), r"role/\1"),
    (re.compile(r"^aws_lambda_function\.(\w+)\.arn$"), r"function/\1"),
    (re.compile(r"^local\.schedules_of_messages$"), "schedule/m-*"),
    (re.compile(r"^local\.recurring_schedules$"), "schedule/r-*"),
    (re.compile(r"^local\.api_keys_arn$"), "apigateway/apikeys"),
    (re.compile(r"^local\.usage_plan_keys_arns$"), "apigateway/usageplans/*/keys"),
    (re.compile(r"^local\.log_group_arns\[each\.key\]:\*$"), "logs/own"),
    (re.compile(r"^\*$"), "*"),
]


def resource_key(expression: str) -> str:
    """The short key of a resource expression of a policy document (`${aws_sqs_queue.release.arn}` ...)."""
    text = str(expression)
    text = re.sub(r"\$\{([^}]*)\}", r"\1", text)  # `${a.b}/index/x` -> `a.b/index/x`
    for pattern, key in _RESOURCE_KEYS:
        if pattern.match(text):
            return pattern.sub(key, text)
    raise AssertionError(f"policy resource {expression!r}: teach tests/terraform/iam.py its key")


@dataclass(frozen=True)
class Statement:
    """One statement of a policy document."""

    document: str
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[dict[str, Any], ...]

    def grants(self) -> set[Grant]:
        return {(action, resource) for action in self.actions for resource in self.resources}


def _resources(value: Any) -> list[str]:
    """A statement's `resources`: a list of expressions, or one expression giving a list."""
    if isinstance(value, list):
        return [resource_key(v) for v in value]
    return [resource_key(value)]


def statements(document: str) -> list[Statement]:
    """Every statement of a `data.aws_iam_policy_document`, including its source documents'."""
    block = stack().data["aws_iam_policy_document"][document]
    found: list[Statement] = []
    for source in block.get("source_policy_documents", []):
        match = re.fullmatch(r'data\.aws_iam_policy_document\.(\w+)(?:\["?(\w+)"?\])?\.json', unwrap(source))
        assert match, f"{document}: cannot follow source document {source!r}"
        found.extend(statements(match.group(1)))
    for statement in blocks(block, "statement"):
        found.append(
            Statement(
                document=document,
                sid=str(statement.get("sid", "")),
                actions=tuple(statement.get("actions", [])),
                resources=tuple(_resources(statement.get("resources", []))),
                conditions=tuple(blocks(statement, "condition")),
            )
        )
    return found


def function_grants(function: str) -> set[Grant]:
    """What the role of one function may do (its policy document, `iam.tf`)."""
    return set().union(*(s.grants() for s in statements(function)))


def allowed(call: Grant, grants: Iterable[Grant]) -> bool:
    """Whether a concrete call is covered by one of the grants (fnmatch on `*` in grant resources)."""
    action, resource = call
    return any(action == a and fnmatchcase(resource, r) for a, r in grants)


# ---- boto3 calls -> IAM -------------------------------------------------------------------

# boto3 operation -> IAM action, where the names differ or one call needs several actions.
SPECIAL_ACTIONS = {
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("apigateway", "GetApiKeys"): "apigateway:GET",
    ("apigateway", "GetApiKey"): "apigateway:GET",
    ("apigateway", "CreateApiKey"): "apigateway:POST",
    ("apigateway", "CreateUsagePlanKey"): "apigateway:POST",
    ("dynamodb", "TransactGetItems"): "dynamodb:GetItem",
}
TRANSACT_PARTS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def iam_action(service: str, operation: str) -> str:
    """The IAM action of a boto3 operation (`dynamodb`, `PutItem` -> `dynamodb:PutItem`)."""
    return SPECIAL_ACTIONS.get((service, operation), f"{service}:{operation}")


def snake_to_operation(method: str) -> str:
    """`batch_get_item` -> `BatchGetItem`."""
    return "".join(part.capitalize() for part in method.split("_"))


@dataclass
class CallMapper:
    """Turns recorded boto3 calls of a moto stack into grants (needs the stack's names)."""

    table_prefix: str
    schedule_group: str
    scheduler_role_arn: str
    queues: dict[str, str]  # queue URL -> key (`release`, ...)

    def grants(self, service: str, operation: str, params: dict[str, Any]) -> set[Grant]:
        if service == "dynamodb":
            return self._dynamodb(operation, params)
        if service == "dynamodbstreams":  # the stream's event source mapping, with the function's role
            arn = str(params.get("StreamArn") or params.get("ShardIterator", "")).split("|", 1)[0]
            table = arn.split(":table/", 1)[1].split("/", 1)[0]
            return {(f"dynamodb:{operation}", f"{self._table(table)}/stream/*")}
        if service == "sqs":
            return {(iam_action(service, operation), f"queue/{self.queues[params['QueueUrl']]}")}
        if service == "kms":
            return {(iam_action(service, operation), "key/secrets")}
        if service == "scheduler":
            return self._scheduler(operation, params)
        if service == "apigateway":
            if operation == "CreateUsagePlanKey":
                return {(iam_action(service, operation), f"apigateway/usageplans/{params['usagePlanId']}/keys")}
            return {(iam_action(service, operation), "apigateway/apikeys")}
        raise AssertionError(f"a {service} call: teach tests/terraform/iam.py its IAM mapping")

    def _table(self, name: str) -> str:
        assert name.startswith(self.table_prefix + "-"), name
        return "table/" + name.removeprefix(self.table_prefix + "-")

    def _dynamodb(self, operation: str, params: dict[str, Any]) -> set[Grant]:
        if operation == "TransactWriteItems":
            found = set()
            for item in params["TransactItems"]:
                [(kind, part)] = item.items()
                found.add((TRANSACT_PARTS[kind], self._table(part["TableName"])))
            return found
        if operation == "BatchGetItem":
            return {("dynamodb:BatchGetItem", self._table(name)) for name in params["RequestItems"]}
        table = self._table(params["TableName"])
        if operation in ("Query", "Scan") and params.get("IndexName"):
            table = f"{table}/index/{params['IndexName']}"
        return {(iam_action("dynamodb", operation), table)}

    def _scheduler(self, operation: str, params: dict[str, Any]) -> set[Grant]:
        if operation == "ListSchedules":
            assert params.get("GroupName") == self.schedule_group
            return {("scheduler:ListSchedules", "*")}
        assert params.get("GroupName") == self.schedule_group, params
        found = {(iam_action("scheduler", operation), f"schedule/{params['Name']}")}
        role = params.get("Target", {}).get("RoleArn")
        if role is not None:
            assert role == self.scheduler_role_arn
            found.add(("iam:PassRole", "role/scheduler"))
        return found

"""terraform/iam.tf against the code, statically: every boto3 call of the AWS adapters is an IAM action
some function is granted; no `*` action; `*` resources only where AWS has no narrower one; KMS use
split as the design says (the API seals, only the delivery function opens). What each function calls
at run time is checked in test_iam_runtime.py."""

from __future__ import annotations

import ast

import pytest

from tests.terraform.hcl import ROOT, stack, unwrap
from tests.terraform.iam import TRANSACT_PARTS, function_grants, iam_action, snake_to_operation, statements

FUNCTIONS = ["api_handler", "authorizer", "deliver", "cleanup", "post_confirmation", "meter"]

# The attribute names the AWS adapters keep their boto3 clients under, and the service of each.
CLIENTS = {
    "client": "dynamodb",
    "_client": "dynamodb",
    "_sqs": "sqs",
    "_scheduler": "scheduler",
    "scheduler": "scheduler",
    "_kms": "kms",
    "apigateway": "apigateway",
}
# Calls that never run in a Lambda: table creation for tests, benchmarks and local stacks.
NOT_IN_LAMBDAS = {("tables.py", "create_table"), ("tables.py", "update_time_to_live")}
# Actions without resource-level permissions (Resource must be "*").
NO_RESOURCE_LEVEL = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "scheduler:ListSchedules"}

AWS_CODE = [
    *sorted((ROOT / "chalicelib/adapters/aws").glob("*.py")),
    ROOT / "chalicelib/authorizer.py",
    ROOT / "chalicelib/triggers.py",
]


def boto3_calls() -> set[tuple[str, str, str]]:
    """(module, service, operation) of every `<client>.<method>(...)` call in the AWS code."""
    found = set()
    for path in AWS_CODE:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            receiver = node.func.value
            name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", None)
            if name in CLIENTS and (path.name, node.func.attr) not in NOT_IN_LAMBDAS:
                found.add((path.name, CLIENTS[name], snake_to_operation(node.func.attr)))
    return found


def transaction_parts() -> set[str]:
    """The kinds of transaction items the code builds (`{"Put": ...}`, `{"Update": ...}`)."""
    parts = set()
    for path in AWS_CODE:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                for key in node.keys:
                    if isinstance(key, ast.Constant) and key.value in TRANSACT_PARTS:
                        parts.add(str(key.value))
    return parts


def code_actions() -> set[str]:
    actions = set()
    for _, service, operation in boto3_calls():
        if operation == "TransactWriteItems":
            actions |= {TRANSACT_PARTS[part] for part in transaction_parts()}
        else:
            actions.add(iam_action(service, operation))
    return actions


def test_the_scan_finds_the_calls_of_every_service() -> None:
    services = {service for _, service, _ in boto3_calls()}
    assert services == {"dynamodb", "sqs", "scheduler", "kms", "apigateway"}


def test_every_action_the_code_calls_is_granted_to_some_function() -> None:
    granted = {action for name in FUNCTIONS for action, _ in function_grants(name)}
    assert code_actions() - granted == set()


def test_every_granted_data_action_is_one_the_code_calls() -> None:
    """No grant for an operation the code never makes (logs, X-Ray, SQS polling and IAM are not calls
    of our code: the runtime, the SDK and the event source mappings, SQS's and the stream's, make them)."""
    outside = {"logs:", "xray:", "iam:PassRole", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
    outside |= {f"dynamodb:{a}" for a in ("DescribeStream", "GetRecords", "GetShardIterator", "ListStreams")}
    granted = {action for name in FUNCTIONS for action, _ in function_grants(name)}
    unused = {a for a in granted if not any(a.startswith(prefix) for prefix in outside)} - code_actions()
    assert not unused, f"granted but never called: {sorted(unused)}"


@pytest.mark.parametrize("document", sorted(stack().data["aws_iam_policy_document"]))
def test_no_wildcard_action(document: str) -> None:
    for statement in statements(document):
        for action in statement.actions:
            _service, _, name = action.partition(":")
            if document.endswith("_key"):  # key policies: the account administers its own key
                continue
            assert "*" not in name, f"{document}/{statement.sid}: {action}"


@pytest.mark.parametrize("name", [*FUNCTIONS, "scheduler"])
def test_star_resources_only_where_aws_has_no_narrower_one(name: str) -> None:
    for statement in statements(name):
        if "*" in statement.resources:
            assert set(statement.actions) <= NO_RESOURCE_LEVEL, f"{name}/{statement.sid}: {statement.actions} on *"


def test_only_the_delivery_function_may_decrypt_secrets_and_only_the_api_seals() -> None:
    decrypt = {name for name in FUNCTIONS if any(a.startswith("kms:Decrypt") for a, _ in function_grants(name))}
    seal = {name for name in FUNCTIONS if any(a.startswith("kms:GenerateDataKey") for a, _ in function_grants(name))}
    assert decrypt == {"deliver"}
    assert seal == {"api_handler"}
    key_policy = {s.sid: s for s in statements("secrets_key")}
    assert "kms:Decrypt" not in key_policy["AccountAdministersButDoesNotUse"].actions
    assert not any(
        a.startswith(("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:ReEncrypt", "kms:CreateGrant"))
        for a in key_policy["AccountAdministersButDoesNotUse"].actions
    )


def test_kms_use_is_bound_to_the_tenant_encryption_context() -> None:
    for name, action in [("api_handler", "kms:GenerateDataKey"), ("deliver", "kms:Decrypt")]:
        [statement] = [s for s in statements(name) if action in s.actions]
        assert {c["variable"] for c in statement.conditions} >= {"kms:EncryptionContextKeys"}


def test_pass_role_is_limited_to_scheduler() -> None:
    [statement] = [s for s in statements("pass_scheduler_role")]
    assert statement.resources == ("role/scheduler",)
    assert any(
        c["variable"] == "iam:PassedToService" and c["values"] == ["scheduler.amazonaws.com"]
        for c in statement.conditions
    )


def test_each_role_gets_its_own_document() -> None:
    policies = stack().locals["function_policies"]
    assert {k: unwrap(v) for k, v in policies.items()} == {
        name: f"data.aws_iam_policy_document.{name}.json" for name in FUNCTIONS
    }


def test_the_scheduler_role_invokes_only_the_delivery_function() -> None:
    grants = set().union(*(s.grants() for s in statements("scheduler")))
    assert grants == {("lambda:InvokeFunction", "function/deliver"), ("sqs:SendMessage", "queue/schedule_dlq")}
    [assume] = statements("scheduler_assume")
    assert {c["variable"] for c in assume.conditions} == {"aws:SourceAccount", "aws:SourceArn"}

"""AWS's documented request rules that moto does not enforce, enforced on a boto3 session.

`enforce(session)` registers a `before-parameter-build` hook: a call that AWS would reject fails
the way AWS fails it (a `ClientError` with AWS's error code) before moto sees it. `support.session()`
installs it, so every AWS test and benchmark runs against AWS's rules rather than moto's leniency.
The numbers and their documentation pages are in `chalicelib.adapters.aws.limits`;
tests/aws/test_aws_rules.py proves each rule rejects what it should.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.aws import limits, timing

Rule = Callable[[dict[str, Any]], None]


def _reject(operation: str, message: str, code: str = "ValidationException") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


# ---- DynamoDB ------------------------------------------------------------------------------------


def _item_limit(operation: str, item: dict[str, Any]) -> None:
    if limits.item_size(item) > limits.ITEM_MAX_BYTES:
        raise _reject(operation, "Item size has exceeded the maximum allowed size")


def transact_write_items(params: dict[str, Any]) -> None:
    ops = params.get("TransactItems", [])
    if not 1 <= len(ops) <= limits.TRANSACTION_MAX_ITEMS:
        raise _reject("TransactWriteItems", "Member must have length less than or equal to 100")
    for op in ops:
        ((_, body),) = op.items()
        if "Item" in body:
            _item_limit("TransactWriteItems", body["Item"])
    if sum(limits.operation_size(op) for op in ops) > limits.TRANSACTION_MAX_BYTES:
        raise _reject("TransactWriteItems", "Transaction request cannot be larger than 4 MB")
    keys = [json.dumps([next(iter(op.values()))["TableName"], _key_of(op)], sort_keys=True) for op in ops]
    if len(set(keys)) != len(keys):
        raise _reject("TransactWriteItems", "Transaction request cannot include multiple operations on one item")


def _key_of(op: dict[str, Any]) -> Any:
    ((_, body),) = op.items()
    if "Key" in body:
        return body["Key"]
    item = body["Item"]
    return {k: v for k, v in item.items() if k in ("pk", "sk", "id", "tenantId", "tokenHash", "day")}


def put_item(params: dict[str, Any]) -> None:
    _item_limit("PutItem", params.get("Item", {}))


def batch_get_item(params: dict[str, Any]) -> None:
    count = sum(len(table.get("Keys", [])) for table in params.get("RequestItems", {}).values())
    if count > limits.BATCH_GET_MAX_KEYS:
        raise _reject("BatchGetItem", "Too many items requested for the BatchGetItem call")


# ---- SQS -----------------------------------------------------------------------------------------


def _delay(operation: str, delay: Any) -> None:
    if delay is not None and not 0 <= int(delay) <= limits.SQS_MAX_DELAY_S:
        raise _reject(operation, "Value for parameter DelaySeconds is invalid", "InvalidParameterValue")


def send_message(params: dict[str, Any]) -> None:
    _delay("SendMessage", params.get("DelaySeconds"))
    if len(params.get("MessageBody", "").encode()) > limits.SQS_MAX_MESSAGE_BYTES:
        raise _reject("SendMessage", "Message must be shorter than 262144 bytes", "InvalidParameterValue")


def send_message_batch(params: dict[str, Any]) -> None:
    entries = params.get("Entries", [])
    if not 1 <= len(entries) <= limits.SQS_MAX_BATCH_ENTRIES:
        raise _reject(
            "SendMessageBatch", "Maximum number of entries per request are 10", "TooManyEntriesInBatchRequest"
        )
    for entry in entries:
        _delay("SendMessageBatch", entry.get("DelaySeconds"))
    if sum(len(e.get("MessageBody", "").encode()) for e in entries) > limits.SQS_MAX_MESSAGE_BYTES:
        raise _reject("SendMessageBatch", "Batch requests cannot be longer than 262144 bytes", "BatchRequestTooLong")


# ---- EventBridge Scheduler -----------------------------------------------------------------------

_NAME = re.compile(f"{limits.SCHEDULE_NAME_CHARS}{{1,{limits.SCHEDULE_NAME_MAX}}}")
_TOKEN = re.compile(f"{limits.IDEMPOTENCY_KEY_CHARS}{{1,64}}")


def create_schedule(params: dict[str, Any]) -> None:
    for field in ("Name", "GroupName"):
        value = params.get(field)
        if value is not None and not _NAME.fullmatch(value):
            raise _reject("CreateSchedule", f"{field} must satisfy pattern [0-9a-zA-Z-_.]+ and be 1-64 long")
    token = params.get("ClientToken")
    if token is not None and not _TOKEN.fullmatch(token):
        raise _reject("CreateSchedule", "ClientToken must satisfy pattern [a-zA-Z0-9-_]+ and be 1-64 long")
    expression = params.get("ScheduleExpression", "")
    if len(expression) > limits.SCHEDULE_EXPRESSION_MAX:
        raise _reject("CreateSchedule", "ScheduleExpression is too long")
    if expression.startswith("at("):
        try:
            timing.validate_at_expression(expression)
        except timing.InvalidScheduleSpec as exc:
            raise _reject("CreateSchedule", f"Invalid Schedule Expression {expression}.") from exc
    if expression.startswith(("cron(", "rate(")):
        problem = recurring_expression_problem(expression)
        if problem:
            raise _reject("CreateSchedule", f"Invalid Schedule Expression {expression}: {problem}.")
    target = params.get("Target", {})
    if not target.get("RoleArn") or not target.get("Arn"):
        raise _reject("CreateSchedule", "Target needs Arn and RoleArn")
    if params.get("FlexibleTimeWindow", {}).get("Mode") not in ("OFF", "FLEXIBLE"):
        raise _reject("CreateSchedule", "FlexibleTimeWindow.Mode must be OFF or FLEXIBLE")


def update_schedule(params: dict[str, Any]) -> None:
    create_schedule(params)  # UpdateSchedule takes the whole definition, under the same rules


_RATE = re.compile(r"rate\(([1-9][0-9]*) ([a-z]+)\)")
_TOKEN_SPLIT = re.compile(r"[,\-/]")


def recurring_expression_problem(expression: str) -> str | None:
    """Why EventBridge Scheduler rejects a `cron(...)`/`rate(...)` expression (None: it accepts it)."""
    if expression.startswith("rate("):
        match = _RATE.fullmatch(expression)
        if match is None or match.group(2) not in limits.RATE_UNITS:
            return "rate takes a positive integer and minute(s), hour(s) or day(s)"
        # "If the value is equal to 1, then the unit must be singular ... greater than 1, plural"
        # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html#eb-rate-expressions
        if (match.group(1) == "1") != (not match.group(2).endswith("s")):
            return "rate takes the singular unit for 1 and the plural otherwise"
        return None
    if not (expression.startswith("cron(") and expression.endswith(")")):
        return "not a cron expression"
    fields = expression[5:-1].split(" ")
    if len(fields) != len(limits.CRON_FIELDS):
        return "cron takes six fields"
    for text, (name, low, high, wildcards) in zip(fields, limits.CRON_FIELDS, strict=True):
        problem = _cron_field_problem(text, name, low, high, wildcards)
        if problem:
            return problem
    if (fields[2] == "?") == (fields[4] == "?"):
        return "exactly one of day-of-month and day-of-week must be ?"
    return None


def _cron_field_problem(text: str, name: str, low: int, high: int, wildcards: str) -> str | None:
    if not text or any(not (c.isalnum() or c in wildcards) for c in text):
        return f"{name} takes {wildcards}"
    if text in ("*", "?"):
        return None
    if "#" in text:
        day, _, nth = text.partition("#")
        if "," in text or "#" in nth or not _cron_value(day, name, low, high) or len(nth) != 1 or nth not in "12345":
            return "# takes one day-of-week#n (n 1-5) alone"
        return None
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and not step.isdigit():
            return f"{name} takes a number after /"
        if not all(token == "*" or _cron_value(token, name, low, high) for token in base.split("-")):
            return f"{name} takes {low}-{high}"
    return None


def _cron_value(token: str, name: str, low: int, high: int) -> bool:
    value = token.upper()
    if (name == "month" and value in limits.MONTH_NAMES) or (name == "day-of-week" and value in limits.DAY_NAMES):
        return True
    if value in ("L", "LW"):
        return True
    if value[-1:] in ("L", "W") and value[:-1].isdigit():
        value = value[:-1]
    return value.isdigit() and low <= int(value) <= high


def delete_schedule(params: dict[str, Any]) -> None:
    for field in ("Name", "GroupName"):
        value = params.get(field)
        if value is not None and not _NAME.fullmatch(value):
            raise _reject("DeleteSchedule", f"{field} must satisfy pattern [0-9a-zA-Z-_.]+")


RULES: dict[tuple[str, str], Rule] = {
    ("dynamodb", "TransactWriteItems"): transact_write_items,
    ("dynamodb", "PutItem"): put_item,
    ("dynamodb", "BatchGetItem"): batch_get_item,
    ("sqs", "SendMessage"): send_message,
    ("sqs", "SendMessageBatch"): send_message_batch,
    ("scheduler", "CreateSchedule"): create_schedule,
    ("scheduler", "UpdateSchedule"): update_schedule,
    ("scheduler", "DeleteSchedule"): delete_schedule,
}


def check(service: str, operation: str, params: dict[str, Any]) -> None:
    """Raise what AWS would answer to this call, if it breaks a rule."""
    rule = RULES.get((service, operation))
    if rule is not None:
        rule(params)


def _hook(params: dict[str, Any], model: Any, **_: Any) -> None:
    check(model.service_model.service_name, model.name, params)


def enforce(session: Any) -> Any:
    """Make `session`'s clients reject what AWS rejects (returns the session)."""
    for service, operation in RULES:
        session.events.register(f"before-parameter-build.{service}.{operation}", _hook)
    return session

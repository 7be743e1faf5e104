"""Limits AWS documents and moto does not enforce, as data, with how DynamoDB sizes an item.

The code stays inside these (create transactions are chunked by them, release delays are clamped
to them, schedule names are validated against them); tests/aws/rules.py makes moto reject what AWS
rejects by the same numbers. Each value cites the page that states it.
"""

from __future__ import annotations

import math
from typing import Any

# DynamoDB. TransactWriteItems: "up to 100 action requests ... The aggregate size of the items in the
# transaction cannot exceed 4 MB."
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
TRANSACTION_MAX_ITEMS = 100
TRANSACTION_MAX_BYTES = 4 * 1024 * 1024
# "The maximum item size in DynamoDB is 400 KB, which includes both attribute name binary length
# (UTF-8 length) and attribute value lengths (again binary length)."
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items
ITEM_MAX_BYTES = 400 * 1024
# BatchGetItem: at most 100 items per call.
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
BATCH_GET_MAX_KEYS = 100

# SQS SendMessage `DelaySeconds`: "Valid values: 0 to 900."
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
SQS_MAX_DELAY_S = 900
# Message size, and a whole SendMessageBatch (at most 10 entries): 256 KiB, the long-standing quota
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html;
# newer accounts may send more, so this is the safe bound).
SQS_MAX_MESSAGE_BYTES = 256 * 1024
SQS_MAX_BATCH_ENTRIES = 10

# EventBridge Scheduler CreateSchedule: Name and GroupName 1-64 of [0-9a-zA-Z-_.]; ClientToken 1-64
# of [a-zA-Z0-9-_] (no dot); ScheduleExpression at most 256 characters.
# https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html
SCHEDULE_NAME_MAX = 64
SCHEDULE_NAME_CHARS = r"[0-9a-zA-Z\-_.]"
IDEMPOTENCY_KEY_CHARS = r"[a-zA-Z0-9\-_]"
SCHEDULE_EXPRESSION_MAX = 256

# EventBridge Scheduler recurring expressions. `cron(minutes hours day-of-month month day-of-week year)`:
# six fields; minutes 0-59 and hours 0-23 take `, - * /`; day-of-month 1-31 takes `, - * ? / L W`;
# month 1-12 or JAN-DEC takes `, - * /`; day-of-week 1-7 or SUN-SAT takes `, - * ? L #`; year
# 1970-2199 takes `, - * /`. "You can't use * in both the Day-of-month and Day-of-week fields. If you
# use it in one, you must use ? in the other"; one of them is always `?`. `#` allows one expression only.
# `rate(value unit)`: a positive integer and minute | minutes | hour | hours | day | days. All schedules
# fire with 60 s precision (between 1:00:00 and 1:00:59 for 1:00); DST: "When the time shifts forward in
# Spring, your schedule invocation gets skipped if the cron expression falls on a non-existent date and
# time. When the time shifts back in the Fall, your schedule runs only once".
# https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html
# Context attribute `<aws.scheduler.scheduled-time>` ("for example, 2022-03-22T18:59:43Z") in Input:
# https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html
CRON_FIELDS = (
    ("minutes", 0, 59, ",-*/"),
    ("hours", 0, 23, ",-*/"),
    ("day-of-month", 1, 31, ",-*?/LW"),
    ("month", 1, 12, ",-*/"),
    ("day-of-week", 1, 7, ",-*?L#"),
    ("year", 1970, 2199, ",-*/"),
)
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
RATE_UNITS = ("minute", "minutes", "hour", "hours", "day", "days")

# Lambda: "Environment variables: 4 KB" (all of a function's keys and values together), and 6 MB for
# a synchronous invocation's request (an API Gateway proxy event holds the whole body).
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_ENV_MAX_BYTES = 4 * 1024
LAMBDA_SYNC_PAYLOAD_MAX_BYTES = 6 * 1024 * 1024
# Deployment package (same page): "50 MB (zipped, when uploaded through the Lambda API or SDKs)" and
# "250 MB The maximum size of the contents of a deployment package, including layers and custom
# runtimes. (unzipped)"; the API reports 262,144,000 bytes (CodeSizeUnzipped, API_AccountLimit.html).
# The init phase: "limited to 10 seconds" (lambda-runtime-environment.html).
LAMBDA_ZIP_MAX_BYTES = 50 * 1024 * 1024
LAMBDA_UNZIPPED_MAX_BYTES = 250 * 1024 * 1024
LAMBDA_INIT_MAX_S = 10


def _number_size(text: str) -> int:
    digits = len(str(text).lstrip("-").replace(".", "").lstrip("0")) or 1
    return math.ceil(digits / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for one wire value (`{"S": ...}`, `{"N": ...}`, ...).

    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
    """
    ((kind, inner),) = value.items()
    sizes: dict[str, Any] = {
        "S": lambda: len(inner.encode()),
        "N": lambda: _number_size(inner),
        "B": lambda: len(inner),
        "BOOL": lambda: 1,
        "NULL": lambda: 1,
        "L": lambda: 3 + sum(value_size(v) + 1 for v in inner),
        "M": lambda: 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in inner.items()),
        "SS": lambda: sum(len(v.encode()) for v in inner),
        "NS": lambda: sum(_number_size(v) for v in inner),
        "BS": lambda: sum(len(v) for v in inner),
    }
    if kind not in sizes:
        raise ValueError(f"unknown DynamoDB type {kind}")
    return int(sizes[kind]())


def item_size(item: dict[str, Any] | None, names: set[str] | None = None) -> int:
    """Bytes of a wire item (attribute names + values), optionally only the attributes in `names`."""
    if not item:
        return 0
    return sum(len(k.encode()) + value_size(v) for k, v in item.items() if names is None or k in names)


def operation_size(op: dict[str, Any]) -> int:
    """Bytes one `TransactItems` entry adds to the transaction's aggregate size (its item, or its key
    and expression values for an Update/Delete/ConditionCheck)."""
    ((_, body),) = op.items()
    if "Item" in body:
        return item_size(body["Item"])
    size = item_size(body.get("Key"))
    size += sum(value_size(v) for v in body.get("ExpressionAttributeValues", {}).values())
    return size

"""DynamoDB plumbing: plain-Python items, the one `ClientError` → domain error translation, paging.

`map_exceptions()` is the single place where AWS errors become domain errors (like httpx's
`map_exceptions`): throttling and service trouble → `StorageUnavailable` (503 with `Retry-After`),
a failed condition → `ConcurrentUpdate`, a missing table or resource → `NotFound`. Callers that expect
a failed condition as a normal outcome catch `ConditionFailed` inside the block first.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
import uuid
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import ConcurrentUpdate, NotFound, PayloadTooLarge, StorageUnavailable

Item = dict[str, Any]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

THROTTLING = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "TooManyRequestsException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "KMSInternalException",
        "KeyUnavailableException",
        "LimitExceededException",
        "TransactionInProgressException",
        "RequestThrottled",
        "AWS.SimpleQueueService.RequestThrottled",
    }
)
CONDITION_FAILED = frozenset({"ConditionalCheckFailedException"})
# Why a transaction was cancelled, other than a failed condition: worth trying again (the same
# ClientRequestToken makes the retry idempotent for 10 minutes, so a write that landed lands once).
RETRY_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
# What DynamoDB says when a request is over a size limit (a ValidationException, never worth a retry).
TOO_LARGE = ("Item size has exceeded", "Item size to update has exceeded", "cannot be larger than 4 MB")
TRANSACT_ATTEMPTS = 4
# A delivery result is written after the webhook went out: it keeps trying for ~10 s (well inside the
# 60 s lease) rather than leave the message to cleanup, which would send it again.
RESULT_ATTEMPTS = 10
BACKOFF_CAP_S = 2.0
NOT_FOUND = frozenset({"ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "NotFoundException"})


class ConditionFailed(ConcurrentUpdate):
    """A conditional write found the item in another state; `item` is its old image when AWS sent it."""

    def __init__(self, message: str, item: Item | None = None) -> None:
        super().__init__(message)
        self.item = item


def error_code(exc: ClientError) -> str:
    """The AWS error code of a `ClientError`."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def _cancelled_by_condition(exc: ClientError) -> bool:
    reasons = exc.response.get("CancellationReasons") or []
    return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)


@contextlib.contextmanager
def map_exceptions(what: str = "storage") -> Iterator[None]:
    """Translate AWS client errors raised inside the block into domain errors (see the module docstring)."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if code in CONDITION_FAILED:
            old = exc.response.get("Item")
            raise ConditionFailed(f"{what} changed meanwhile", from_item(old) if old else None) from exc
        if code == "TransactionCanceledException" and _cancelled_by_condition(exc):
            raise ConditionFailed(f"{what} changed meanwhile") from exc
        if code in NOT_FOUND:
            raise NotFound(f"{what} not found") from exc
        if code == "ValidationException" and any(text in str(exc) for text in TOO_LARGE):
            raise PayloadTooLarge(f"{what} is over DynamoDB's size limit") from exc
        if code in THROTTLING or code == "TransactionCanceledException":
            raise StorageUnavailable(f"{what} is busy: {code}", retry_after_s=1) from exc
        raise StorageUnavailable(f"{what} failed: {code}", retry_after_s=1) from exc
    except BotoCoreError as exc:  # connection errors, timeouts, bad endpoint
        raise StorageUnavailable(f"{what} is unreachable: {type(exc).__name__}", retry_after_s=1) from exc


def _retryable(exc: ClientError) -> bool:
    """A failure of a transaction that a retry may get through (conflict, throttling, service trouble)."""
    code = error_code(exc)
    if code == "TransactionCanceledException":
        reasons = {r.get("Code") for r in exc.response.get("CancellationReasons") or []} - {"None", None}
        return bool(reasons) and reasons <= RETRY_REASONS
    return code in THROTTLING


def transact(
    client: Any,
    ops: list[dict[str, Any]],
    what: str,
    *,
    attempts: int = TRANSACT_ATTEMPTS,
    sleep: Any = time.sleep,
) -> None:
    """`TransactWriteItems` that retries conflicts and throttling with jittered backoff, under one
    `ClientRequestToken` (so a retry of a write that did land changes nothing), then maps errors.

    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
    (ClientRequestToken: idempotent for 10 minutes; TransactionConflict in CancellationReasons)."""
    token = uuid.uuid4().hex
    with map_exceptions(what):
        for attempt in range(attempts):
            try:
                client.transact_write_items(TransactItems=ops, ClientRequestToken=token)
                return
            except ClientError as exc:
                if attempt == attempts - 1 or not _retryable(exc):
                    raise
            except BotoCoreError:  # a timeout: the write may have landed; the token makes a retry safe
                if attempt == attempts - 1:
                    raise
            sleep(min(BACKOFF_CAP_S, random.uniform(0.01, 0.05) * 2**attempt))  # noqa: S311 - jitter


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB wire item from plain values; None values are left out."""
    return {name: _serializer.serialize(value) for name, value in values.items() if value is not None}


def to_value(value: Any) -> dict[str, Any]:
    """One DynamoDB wire value."""
    return dict(_serializer.serialize(value))


def from_item(item: Mapping[str, Any]) -> Item:
    """Plain values from a DynamoDB wire item; whole numbers come back as `int`."""
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return {_plain(v) for v in value}
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), bytes):  # boto3 Binary
        return bytes(value.value)
    return value


def values(**named: Any) -> dict[str, Any]:
    """`ExpressionAttributeValues` from keyword arguments (`:name` → value)."""
    return {f":{name}": to_value(value) for name, value in named.items()}


def query_pages(client: Any, **kwargs: Any) -> Iterator[tuple[list[Item], dict[str, Any] | None]]:
    """Pages of a Query as plain items, each with the key to resume after it (None at the end)."""
    while True:
        with map_exceptions("query"):
            response = client.query(**kwargs)
        last = response.get("LastEvaluatedKey")
        yield [from_item(item) for item in response.get("Items", [])], last
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


def delete_of_tenant(client: Any, table: str, tenant_id: str, item_id: str, *, what: str) -> bool:
    """Delete the tenant's item `item_id`; False when there is none."""
    try:
        with map_exceptions(what):
            client.delete_item(
                TableName=table,
                Key=to_item({"tenantId": tenant_id, "id": item_id}),
                ConditionExpression="attribute_exists(id)",
            )
    except ConditionFailed:
        return False
    return True


def count_of_tenant(client: Any, table: str, tenant_id: str, *, stop_at: int, what: str) -> int:
    """How many items of `table` the tenant's partition holds, counted page by page until `stop_at`
    (a cap check needs no more than that; `Select=COUNT` reads keys only)."""
    count = 0
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "tenantId = :tenant",
        "ExpressionAttributeValues": values(tenant=tenant_id),
        "Select": "COUNT",
    }
    while count < stop_at:
        with map_exceptions(what):
            response = client.query(**kwargs)
        count += int(response.get("Count", 0))
        if "LastEvaluatedKey" not in response:
            break
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return count


def batch_get(client: Any, table: str, keys: list[dict[str, Any]], *, consistent: bool = False) -> list[Item]:
    """Items for `keys` (plain values; repeats are read once) in any order; retries unprocessed keys;
    100 keys per call."""
    keys = list({json.dumps(key, sort_keys=True): key for key in keys}.values())
    found: list[Item] = []
    for start in range(0, len(keys), 100):
        pending: dict[str, Any] = {table: {"Keys": [to_item(key) for key in keys[start : start + 100]]}}
        if consistent:
            pending[table]["ConsistentRead"] = True
        while pending:
            with map_exceptions("batch read"):
                response = client.batch_get_item(RequestItems=pending)
            found.extend(from_item(item) for item in response.get("Responses", {}).get(table, []))
            pending = response.get("UnprocessedKeys") or {}
    return found

"""`MessageStore` on DynamoDB: one table holds each message, its payload and its attempts as items.

Writes that must happen together go in one `TransactWriteItems`: a create puts the message (if
new), its payload and its idempotency record; a delivery result updates the message (if still at the
claimed generation) and puts the attempt. No write here touches a usage counter: the `meter` Lambda
counts from the table's stream (`adapters.aws.meter`), so these transactions never conflict on a hot
counter item. A retried Lambda's duplicate write fails the generation condition as a whole and leaves
no stream record, so it counts nothing. The daily quota stays here, reserved before the write (`quota`):
it must be checked and taken atomically. A change that touches only the message is a plain
conditional write, billed by the small message item (the payload is never rewritten by a state change).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.adapters.aws import codec, limits, timing
from chalicelib.adapters.aws.dynamo import (
    RESULT_ATTEMPTS,
    TRANSACT_ATTEMPTS,
    ConditionFailed,
    Item,
    batch_get,
    map_exceptions,
    to_item,
    transact,
    values,
)
from chalicelib.adapters.aws.queries import MessageQueries
from chalicelib.adapters.aws.quota import QuotaCounter
from chalicelib.domain.errors import ConcurrentUpdate, PartiallyStored, PayloadTooLarge, StorageUnavailable
from chalicelib.domain.model import Attempt, Message, Status, UsageDelta, cancel_for_deleted_app
from chalicelib.ports import Clock, Inserted, MessageQuery, NewMessage

# A create transaction's byte budget: DynamoDB's 4 MB less room for how DynamoDB counts request
# overhead we do not model (a chunk is never near the limit by a few bytes).
CHUNK_MAX_BYTES = limits.TRANSACTION_MAX_BYTES - 64 * 1024
MAX_REPLAY_ROUNDS = 3

Metric = Callable[[str, float], None]


def _no_metric(name: str, value: float) -> None:
    """Metrics are off unless wiring plugs them in."""


class DynamoMessageStore(MessageQueries):
    """`MessageStore` over the `messages`, `usage` and `idempotency` tables (see `tables`)."""

    def __init__(
        self,
        client: Any,
        *,
        table: str,
        usage_table: str,
        idempotency_table: str,
        clock: Clock,
        retention_s: int,
        arm_horizon_ms: int | None = None,
        metric: Metric = _no_metric,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table
        self._idempotency = idempotency_table
        self._clock = clock
        self._retention_s = retention_s
        self._arm_horizon_ms = arm_horizon_ms
        self._metric = metric
        self._sleep = sleep
        self._quota = QuotaCounter(client, usage_table, clock)

    @property
    def table(self) -> str:
        """The `messages` table's name."""
        return self._table

    # ---- create ----------------------------------------------------------------------------

    def insert_messages(
        self, items: Sequence[NewMessage], usage: UsageDelta, *, idempotency_ttl_ms: int, quota: int | None = None
    ) -> list[Inserted]:
        """Store new messages in order; a key used within the TTL returns its earlier message. What is
        stored is reserved from the quota first (see `quota`); what ends up not stored is given back.

        Items go in as few transactions as DynamoDB's limits allow (`_chunks`), each item whole in one
        of them. An item too large for any transaction is a `PayloadTooLarge` before anything is
        written; a failure after some transactions committed is a `PartiallyStored` naming them."""
        results: dict[int, Inserted] = {}
        for _ in range(MAX_REPLAY_ROUNDS):
            results.update(self._replays(items, results))
            pending = [(i, item) for i, item in enumerate(items) if i not in results]
            reserved = self._quota.take(usage.tenant_id, usage.day, len(pending), quota)
            stored = 0
            try:
                for chunk, ops in self._chunks(pending, idempotency_ttl_ms):
                    self._create(chunk, ops, results)
                    stored += len(chunk)
            except ConditionFailed:  # another request took one of the keys meanwhile: replay it
                continue
            finally:
                self._quota.give_back(usage.tenant_id, usage.day, reserved - stored)
            self._metric("MessagesScheduled", sum(1 for r in results.values() if r.created))
            return [results[i] for i in range(len(items))]
        raise ConcurrentUpdate("idempotency keys kept changing during the create; try again")

    def replays(self, items: Sequence[NewMessage]) -> dict[int, Inserted]:
        """By index: the items whose idempotency key is live (their earlier message, not stored again)."""
        return self._replays(items, {})

    def create_ops(self, item: NewMessage, ttl_ms: int) -> list[dict[str, Any]]:
        """The transaction writes that create one message (for a caller adding its own writes)."""
        return self._create_ops(item, ttl_ms)

    def _replays(self, items: Sequence[NewMessage], done: dict[int, Inserted]) -> dict[int, Inserted]:
        """Items not yet done whose idempotency key is live, or repeats an earlier item of the same
        request: the earlier message, not stored again."""
        keyed = [item for i, item in enumerate(items) if item.message.idempotency_key and i not in done]
        if not keyed:
            return {}
        records = self._idempotency_records(keyed)
        earlier = self.messages_by_id([record["messageId"] for record in records.values()], consistent=True)
        replays: dict[int, Inserted] = {}
        first: dict[str, Inserted] = {}
        for i, item in enumerate(items):
            key = item.message.idempotency_key
            if not key:
                continue
            if i in done:
                first.setdefault(key, done[i])
                continue
            record = records.get(key)
            found = earlier.get(record["messageId"]) if record else None
            if record is not None and found is not None and found.get("tenantId") == item.message.tenant_id:
                replays[i] = Inserted(codec.message_from(found), False, record.get("requestHash"))
            elif key in first:
                replays[i] = Inserted(first[key].message, False, first[key].request_hash)
            else:
                first[key] = Inserted(item.message, True, item.request_hash)
        return replays

    def _idempotency_records(self, items: Sequence[NewMessage]) -> dict[str, Item]:
        now_s = items[0].message.created_at // 1000
        keys = [{"pk": _idem_pk(item.message)} for item in items]
        rows = batch_get(self._client, self._idempotency, keys, consistent=True)
        return {row["key"]: row for row in rows if int(row.get("expiresAt", 0)) > now_s}

    def _chunks(
        self, pending: list[tuple[int, NewMessage]], ttl_ms: int
    ) -> list[tuple[list[tuple[int, NewMessage]], list[dict[str, Any]]]]:
        """Transactions for `pending`: at most `TRANSACTION_MAX_ITEMS` writes and
        `CHUNK_MAX_BYTES` each, every item's writes in one transaction. All are built before any is
        written, so an item that fits in none fails the request before anything is stored."""
        chunks: list[tuple[list[tuple[int, NewMessage]], list[dict[str, Any]]]] = []
        members: list[tuple[int, NewMessage]] = []
        ops: list[dict[str, Any]] = []
        size = 0
        for index, item in pending:
            item_ops = self._create_ops(item, ttl_ms)
            item_size = sum(limits.operation_size(op) for op in item_ops)
            too_big = any(limits.item_size(op["Put"]["Item"]) > limits.ITEM_MAX_BYTES for op in item_ops)
            if too_big or item_size > CHUNK_MAX_BYTES:
                raise PayloadTooLarge(f"message {index} is larger than one DynamoDB item allows", field="payload")
            full = len(ops) + len(item_ops) > limits.TRANSACTION_MAX_ITEMS or size + item_size > CHUNK_MAX_BYTES
            if members and full:
                chunks.append((members, ops))
                members, ops, size = [], [], 0
            members.append((index, item))
            ops.extend(item_ops)
            size += item_size
        if members:
            chunks.append((members, ops))
        return chunks

    def _create(
        self, chunk: list[tuple[int, NewMessage]], ops: list[dict[str, Any]], results: dict[int, Inserted]
    ) -> None:
        """Write one transaction of a create; on a storage failure after earlier ones committed, say which."""
        try:
            transact(self._client, ops, "messages", sleep=self._sleep)
        except StorageUnavailable as exc:
            if any(r.created for r in results.values()):
                total = max([*results, *(i for i, _ in chunk)]) + 1
                raise PartiallyStored(
                    f"{exc.message}; stored {sum(1 for r in results.values() if r.created)} of the messages",
                    [results.get(i) for i in range(total)],
                ) from exc
            raise
        results.update((i, Inserted(item.message, True, item.request_hash)) for i, item in chunk)

    def _create_ops(self, item: NewMessage, ttl_ms: int) -> list[dict[str, Any]]:
        message, now = item.message, item.message.created_at
        wake = timing.wake_at(message.due_at, now, arm_horizon_ms=self._arm_horizon_ms)
        stored = codec.message_item(message, wake_at=wake, now_ms=now, retention_s=self._retention_s)
        ops: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(stored),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(codec.payload_item(message, item.payload_json, self._retention_s)),
                }
            },
        ]
        if message.idempotency_key is not None:
            record = {
                "pk": _idem_pk(message),
                "key": message.idempotency_key,
                "messageId": message.id,
                "requestHash": item.request_hash,
                "expiresAt": (now + ttl_ms) // 1000,
            }
            ops.append(
                {
                    "Put": {
                        "TableName": self._idempotency,
                        "Item": to_item(record),
                        "ConditionExpression": "attribute_not_exists(pk) OR expiresAt <= :now",
                        "ExpressionAttributeValues": values(now=now // 1000),
                    }
                }
            )
        return ops

    # ---- state changes ---------------------------------------------------------------------

    def save(
        self,
        message: Message,
        *,
        expected_gen: int,
        payload_json: str | None = None,
        attempt: Attempt | None = None,
        usage: UsageDelta | None = None,
        quota: int | None = None,
    ) -> None:
        """Compare-and-set on `gen`; payload and attempt in the same transaction (counters: the meter). A write that
        schedules (`usage.scheduled`, a redrive) reserves from the quota first, and gives it back if it fails."""
        reserved = 0 if usage is None else self._quota.take(usage.tenant_id, usage.day, usage.scheduled, quota)
        try:
            self._save(message, expected_gen=expected_gen, payload_json=payload_json, attempt=attempt)
        except BaseException:
            if usage is not None:
                self._quota.give_back(usage.tenant_id, usage.day, reserved)
            raise

    def _save(
        self,
        message: Message,
        *,
        expected_gen: int,
        payload_json: str | None,
        attempt: Attempt | None,
    ) -> None:
        now = self._clock.now_ms()
        ops = [self._message_put(message, expected_gen, now)]
        refresh_ttl = message.status is Status.SCHEDULED and attempt is None
        if payload_json is not None or refresh_ttl:
            ops.append(self._payload_update(message, payload_json))
        if attempt is not None:
            item = codec.attempt_item(attempt, recorded_at=now, retention_s=self._retention_s)
            ops.append({"Put": {"TableName": self._table, "Item": to_item(item)}})
        if len(ops) == 1:
            with map_exceptions(f"message {message.id}"):
                self._client.put_item(**ops[0]["Put"])
        else:
            attempts = RESULT_ATTEMPTS if attempt is not None else TRANSACT_ATTEMPTS
            transact(self._client, ops, f"message {message.id}", attempts=attempts, sleep=self._sleep)

    def _message_put(self, message: Message, expected_gen: int, now: int) -> dict[str, Any]:
        wake = None
        if message.status is Status.SCHEDULED:
            wake = timing.wake_at(message.due_at, now, arm_horizon_ms=self._arm_horizon_ms)
        elif message.status is Status.DELIVERING:
            wake = max(message.due_at, now) + timing.ARM_GRACE_MS
        item = codec.message_item(message, wake_at=wake, now_ms=now, retention_s=self._retention_s)
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(item),
                "ConditionExpression": "gen = :expected",
                "ExpressionAttributeValues": values(expected=expected_gen),
            }
        }

    def _payload_update(self, message: Message, payload_json: str | None) -> dict[str, Any]:
        update = "SET expiresAt = :expires"
        named = {"expires": codec.payload_expiry_s(message, self._retention_s)}
        if payload_json is not None:
            update += ", body = :body"
            named["body"] = payload_json  # type: ignore[assignment]
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item({"pk": message.id, "sk": codec.PAYLOAD_SK}),
                "UpdateExpression": update,
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": values(**named),
            }
        }

    def take_back(self, message: Message, *, expected_gen: int, now_ms: int) -> bool:
        """Write `message` (back to scheduled) only if the stored one is still `delivering` at
        `expected_gen` with a lease that expired before `now_ms`; False when it is not."""
        put = self._message_put(message, expected_gen, self._clock.now_ms())["Put"]
        put["ConditionExpression"] = "gen = :expected AND #status = :delivering AND leaseUntil < :now"
        put["ExpressionAttributeNames"] = {"#status": "status"}
        put["ExpressionAttributeValues"].update(values(delivering=Status.DELIVERING.value, now=now_ms))
        try:
            with map_exceptions(f"message {message.id}"):
                self._client.put_item(**put)
        except ConditionFailed:
            return False
        return True

    def set_wake(self, message: Message, wake_at: int) -> bool:
        """Move a `scheduled` message's wake time (armed: later; arming failed: now). False if it changed."""
        try:
            with map_exceptions(f"message {message.id}"):
                self._client.update_item(
                    TableName=self._table,
                    Key=to_item({"pk": message.id, "sk": codec.MESSAGE_SK}),
                    UpdateExpression="SET wakeShard = :shard, wakeAt = :wake",
                    ConditionExpression="gen = :gen AND #status = :scheduled",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=values(
                        shard=codec.wake_shard(message.id), wake=wake_at, gen=message.gen, scheduled="scheduled"
                    ),
                )
        except ConditionFailed:
            return False
        return True

    def cancel_scheduled_of_app(self, tenant_id: str, app_id: str, *, limit: int) -> int:
        """Cancel (reason `app_deleted`) up to `limit` of the app's scheduled messages."""
        cancelled, cursor = 0, None
        query = MessageQuery(app_id=app_id, status=Status.SCHEDULED)
        while cancelled < limit:
            page = self.list_messages(tenant_id, query, cursor=cursor, limit=min(100, limit - cancelled))
            for message in page.items:
                try:
                    self.save(cancel_for_deleted_app(message), expected_gen=message.gen)
                    cancelled += 1
                except ConcurrentUpdate:
                    continue
            cursor = page.next_cursor
            if cursor is None:
                break
        return cancelled


def _idem_pk(message: Message) -> str:
    return f"{message.tenant_id}#{message.idempotency_key}"

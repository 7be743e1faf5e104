"""`MessageStore` on DynamoDB: one table holds each message, its payload and its attempts as items.

Writes that must happen together go in one `TransactWriteItems`: a create puts the message (if
new), its payload, its idempotency record and the `scheduled` counter; a delivery result updates the
message (if still at the claimed generation), puts the attempt and adds the counters. A retried
Lambda's duplicate write fails the generation condition as a whole, so a count moves exactly once,
with the state change that caused it. A change that touches only the message is a plain conditional
write, billed by the small message item (the payload is never rewritten by a state change).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.adapters.aws import codec, timing
from chalicelib.adapters.aws.dynamo import (
    ConditionFailed,
    Item,
    batch_get,
    map_exceptions,
    to_item,
    values,
)
from chalicelib.adapters.aws.queries import MessageQueries
from chalicelib.adapters.aws.quota import QuotaCounter
from chalicelib.adapters.aws.stores import usage_update
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.model import Attempt, Message, Status, UsageDelta, cancel_for_deleted_app
from chalicelib.ports import Clock, Inserted, MessageQuery, NewMessage

CHUNK = 33  # messages per create transaction: 3 items each + 1 counter update <= 100 items
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
    ) -> None:
        self._client = client
        self._table = table
        self._usage = usage_table
        self._idempotency = idempotency_table
        self._clock = clock
        self._retention_s = retention_s
        self._arm_horizon_ms = arm_horizon_ms
        self._metric = metric
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
        stored is reserved from the quota first (see `quota`); what ends up not stored is given back."""
        results: dict[int, Inserted] = {}
        for _ in range(MAX_REPLAY_ROUNDS):
            results.update(self._replays(items, results))
            pending = [(i, item) for i, item in enumerate(items) if i not in results]
            reserved = self._quota.take(usage.tenant_id, usage.day, len(pending), quota)
            stored = 0
            try:
                for start in range(0, len(pending), CHUNK):
                    chunk = pending[start : start + CHUNK]
                    self._create(chunk, usage, idempotency_ttl_ms)
                    stored += len(chunk)
                    results.update((i, Inserted(item.message, True, item.request_hash)) for i, item in chunk)
            except ConditionFailed:  # another request took one of the keys meanwhile: replay it
                continue
            finally:
                self._quota.give_back(usage.tenant_id, usage.day, reserved - stored)
            self._metric("MessagesScheduled", sum(1 for r in results.values() if r.created))
            return [results[i] for i in range(len(items))]
        raise ConcurrentUpdate("idempotency keys kept changing during the create; try again")

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

    def _create(self, chunk: list[tuple[int, NewMessage]], usage: UsageDelta, ttl_ms: int) -> None:
        ops: list[dict[str, Any]] = []
        for _, item in chunk:
            ops.extend(self._create_ops(item, ttl_ms))
        created = UsageDelta(usage.tenant_id, usage.day, scheduled=len(chunk))
        counter = usage_update(self._usage, created, chunk[0][1].message.id)
        if counter is not None:
            ops.append(counter)
        with map_exceptions("messages"):
            self._client.transact_write_items(TransactItems=ops)

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
        """Compare-and-set on `gen`; payload, attempt and counters in the same transaction. A write that
        schedules (`usage.scheduled`, a redrive) reserves from the quota first, and gives it back if it fails."""
        reserved = 0 if usage is None else self._quota.take(usage.tenant_id, usage.day, usage.scheduled, quota)
        try:
            self._save(message, expected_gen=expected_gen, payload_json=payload_json, attempt=attempt, usage=usage)
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
        usage: UsageDelta | None,
    ) -> None:
        now = self._clock.now_ms()
        ops = [self._message_put(message, expected_gen, now)]
        refresh_ttl = message.status is Status.SCHEDULED and attempt is None
        if payload_json is not None or refresh_ttl:
            ops.append(self._payload_update(message, payload_json))
        if attempt is not None:
            item = codec.attempt_item(attempt, recorded_at=now, retention_s=self._retention_s)
            ops.append({"Put": {"TableName": self._table, "Item": to_item(item)}})
        counter = None if usage is None else usage_update(self._usage, usage, message.id)
        if counter is not None:
            ops.append(counter)
        with map_exceptions(f"message {message.id}"):
            if len(ops) == 1:
                self._client.put_item(**ops[0]["Put"])
            else:
                self._client.transact_write_items(TransactItems=ops)

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

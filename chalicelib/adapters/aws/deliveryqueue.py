"""`DeliveryQueue` on DynamoDB: EventBridge Scheduler is this backend's timer, so work is claimed by the
reference a timer event carries (`claim`), never by scanning due times (`claim_due` returns nothing).

A claim is one conditional `UpdateItem` (scheduled, at the timer's `gen`, due, lease free) that also
returns the message as it was when the condition failed (so a timer that fired early costs no extra
read), then one `BatchGetItem` over the apps and messages tables for the app and the payload. A result
is the message store's compare-and-set write (message, attempt and counters in one transaction), so a
duplicate or late result fails its generation condition and writes nothing; a conflicting or throttled
result write is retried for ~10 s under one client token (`RESULT_ATTEMPTS`): the webhook already went
out, and leaving the message to cleanup would send it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.adapters.aws import codec
from chalicelib.adapters.aws.dynamo import ConditionFailed, from_item, map_exceptions, to_item, values
from chalicelib.adapters.aws.messages import DynamoMessageStore
from chalicelib.adapters.aws.stores import DynamoAppStore
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.model import App, Message, Status
from chalicelib.ports import Admission, Completion, Lease, Refused, TimerRef


class DynamoDeliveryQueue:
    """Leases on the `messages` table; `owner` names the process holding them (for diagnosis)."""

    def __init__(
        self, client: Any, *, messages: DynamoMessageStore, apps: DynamoAppStore, apps_table: str, owner: str
    ) -> None:
        self._client = client
        self._messages = messages
        self._apps = apps
        self._apps_table = apps_table
        self._owner = owner

    def claim(self, ref: TimerRef, *, now_ms: int, lease_until: int) -> Lease | Refused:
        """Take the message `ref` names for delivery (its wake index entry stays: cleanup's lease check)."""
        try:
            with map_exceptions(f"message {ref.message_id}"):
                response = self._client.update_item(
                    TableName=self._messages.table,
                    Key=to_item({"pk": ref.message_id, "sk": codec.MESSAGE_SK}),
                    UpdateExpression="SET #status = :delivering, gen = :next, leaseUntil = :lease, leaseOwner = :owner",
                    ConditionExpression=(
                        "tenantId = :tenant AND #status = :scheduled AND gen = :gen AND dueAt <= :now"
                        " AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)"
                    ),
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=values(
                        delivering=Status.DELIVERING.value,
                        scheduled=Status.SCHEDULED.value,
                        next=ref.gen + 1,
                        lease=lease_until,
                        owner=self._owner,
                        tenant=ref.tenant_id,
                        gen=ref.gen,
                        now=now_ms,
                    ),
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ConditionFailed as failed:
            old = failed.item if failed.item and failed.item.get("tenantId") == ref.tenant_id else None
            return Refused(None if old is None else codec.message_from(old))
        message = codec.message_from(from_item(response["Attributes"]))
        app, payload = self._inputs(message)
        return Lease(message, payload, app, lease_until)

    def claim_due(self, now_ms: int, admission: Admission, *, lease_until: int) -> list[Lease]:
        """Nothing: the Scheduler fires each message's own timer (see `claim`)."""
        return []

    def next_due(self, admission: Admission) -> int | None:
        """None: the Scheduler, not a due index, knows when messages are due."""
        return None

    def complete(self, completions: Sequence[Completion]) -> list[Completion]:
        """Each result in its own transaction (message at the claimed `gen`, attempt, counters)."""
        stale = []
        for item in completions:
            try:
                self._messages.save(
                    item.message, expected_gen=item.expected_gen, attempt=item.attempt, usage=item.usage
                )
            except ConcurrentUpdate:
                stale.append(item)
        return stale

    def take_back_expired(self, now_ms: int, *, limit: int) -> list[Message]:
        """Expired leases found in the wake index, back to `scheduled` (cleanup does this every minute)."""
        taken = []
        per_shard = max(1, limit // codec.WAKE_SHARDS)
        for shard in range(codec.WAKE_SHARDS):
            page, _ = self._messages.waking_page(shard, now_ms, limit=per_shard)
            for waking in page:
                if waking.message.status is Status.DELIVERING and (waking.lease_until or 0) <= now_ms:
                    again = self.take_back(waking.message, now_ms=now_ms)
                    if again is not None:
                        taken.append(again)
        return taken

    def take_back(self, message: Message, *, now_ms: int) -> Message | None:
        """One message whose lease expired, back to `scheduled` at the next `gen`; None if it moved on meanwhile.
        The attempt may or may not have happened: delivery is at least once. The write holds only while the
        message is still delivering under that expired lease: the wake index and the read behind it are
        eventually consistent, and a result that landed meanwhile keeps its generation, so a condition on
        `gen` alone would undo a finished delivery and send it again."""
        again = message.evolve(status=Status.SCHEDULED)
        if not self._messages.take_back(again, expected_gen=message.gen, now_ms=now_ms):
            return None
        return again

    def _inputs(self, claimed: Message) -> tuple[App | None, str | None]:
        """The message's app (opened) and payload, in one `BatchGetItem` over both tables."""
        request = {
            self._apps_table: {"Keys": [to_item({"tenantId": claimed.tenant_id, "id": claimed.app_id})]},
            self._messages.table: {"Keys": [to_item({"pk": claimed.id, "sk": codec.PAYLOAD_SK})]},
        }
        found: dict[str, list[dict[str, Any]]] = {}
        while request:
            with map_exceptions("delivery inputs"):
                response = self._client.batch_get_item(RequestItems=request)
            for table, rows in response.get("Responses", {}).items():
                found.setdefault(table, []).extend(from_item(row) for row in rows)
            request = response.get("UnprocessedKeys") or {}
        app_rows, payload_rows = found.get(self._apps_table, []), found.get(self._messages.table, [])
        app = self._apps.open_app(app_rows[0]) if app_rows else None
        payload = str(payload_rows[0]["body"]) if payload_rows else None
        return app, payload

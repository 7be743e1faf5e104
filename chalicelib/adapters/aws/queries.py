"""Reads of the `messages` table: lists by sendAt (through the KEYS_ONLY GSIs), attempts, the attempt
feed, and the wake index cleanup sweeps. `DynamoMessageStore` inherits these.

The list GSIs hold keys (plus `appId`) only, so a state change never writes them; a page reads the
index, then the items in one `BatchGetItem`, and filters on the items' current state (an index entry
that moved or went away is skipped). A page may therefore be short; only a null cursor ends a list.
Each call looks at no more than `MAX_EXAMINED` index entries.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.aws import codec
from chalicelib.adapters.aws.dynamo import Item, batch_get, from_item, map_exceptions, query_pages, to_item, values
from chalicelib.adapters.aws.tables import BY_FEED, BY_PROBLEM, BY_SEND, BY_WAKE
from chalicelib.adapters.cursor import decode_cursor, encode_cursor
from chalicelib.domain.model import Attempt, Message, Page, Status
from chalicelib.ports import MessageQuery

MAX_EXAMINED = 2_000
CONTROL_SK = "ctl"


@dataclass(frozen=True, slots=True)
class Waking:
    """A message found in the wake index, with its lease (while delivering)."""

    message: Message
    lease_until: int | None


@dataclass
class _Scan:
    """Progress of one list call over an index."""

    limit: int
    found: list[Message]
    last_key: str | None = None  # sendKey of the last index entry consumed
    examined: int = 0


class MessageQueries:
    """The read side of the message store; `_client` and `_table` are set by the store."""

    _client: Any
    _table: str

    # ---- single items ----------------------------------------------------------------------

    def _get(self, message_id: str, sk: str, *, consistent: bool = True) -> Item | None:
        with map_exceptions("messages"):
            found = self._client.get_item(
                TableName=self._table, Key=to_item({"pk": message_id, "sk": sk}), ConsistentRead=consistent
            )
        item = found.get("Item")
        return None if item is None else from_item(item)

    def get_message(self, tenant_id: str, message_id: str) -> Message | None:
        """One message of a tenant (strongly consistent)."""
        item = self._get(message_id, codec.MESSAGE_SK)
        return None if item is None or item.get("tenantId") != tenant_id else codec.message_from(item)

    def get_payload(self, tenant_id: str, message_id: str) -> str | None:
        """The payload JSON text of a message."""
        item = self._get(message_id, codec.PAYLOAD_SK)
        return None if item is None or item.get("tenantId") != tenant_id else str(item["body"])

    def messages_by_id(self, message_ids: list[str], *, consistent: bool = False) -> dict[str, Item]:
        """Message items by id, whatever their tenant (for lists, cleanup and delivery)."""
        keys = [{"pk": message_id, "sk": codec.MESSAGE_SK} for message_id in dict.fromkeys(message_ids)]
        return {item["pk"]: item for item in batch_get(self._client, self._table, keys, consistent=consistent)}

    # ---- lists -----------------------------------------------------------------------------

    def list_messages(self, tenant_id: str, query: MessageQuery, *, cursor: str | None, limit: int) -> Page[Message]:
        """Messages by `sendAt`, then id; see the module docstring for how filters are applied. On
        `by-send` the tenant's shards are read side by side and merged in `sendKey` order, so the
        order and the cursor (the last `sendAt` and id returned) are those of one index."""
        low = "0" if query.send_after is None else f"{query.send_after:015d}#"
        high = "~" if query.send_before is None else f"{query.send_before:015d}#~"
        after = None if not cursor else codec.send_key(*decode_cursor(cursor, int, str))
        filtered = query.status is not None or query.app_id is not None or query.schedule_id is not None
        page = min(1_000, limit * 4) if filtered else limit
        if query.status in codec.PROBLEM_STATUSES:
            partitions = [(BY_PROBLEM, "problemKey", f"{tenant_id}#{query.status}")]
        else:
            partitions = [(BY_SEND, "sendShard", shard) for shard in codec.list_shards(tenant_id)]
        streams = [
            self._index_rows(
                index, name, value, "sendKey", low=low, high=high, after=after, page=page, app=query.app_id
            )
            for index, name, value in partitions
        ]
        scan = _Scan(limit, [])
        more = self._scan(scan, _merged(streams, "sendKey"), tenant_id, query)
        next_cursor = None
        if more and scan.last_key is not None:
            send_at_text, last_id = scan.last_key.split("#", 1)
            next_cursor = encode_cursor(int(send_at_text), last_id)
        return Page(scan.found, next_cursor)

    def _index_rows(
        self,
        index: str,
        name: str,
        value: str,
        sort: str,
        *,
        low: str,
        high: str,
        after: str | None,
        page: int,
        app: str | None = None,
    ) -> Iterator[Item]:
        """One index partition's entries with `low <= sort <= high` (and after `after`), page by page."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": f"#pk = :pk AND {sort} BETWEEN :low AND :high",
            "ExpressionAttributeNames": {"#pk": name},
            "ExpressionAttributeValues": values(pk=value, low=max(low, after or low), high=high),
            "Limit": page,
        }
        if app is not None and index == BY_SEND:
            kwargs["FilterExpression"] = "appId = :app"
            kwargs["ExpressionAttributeValues"].update(values(app=app))
        for rows, _ in query_pages(self._client, **kwargs):
            for row in rows:
                if after is None or row[sort] > after:
                    yield row

    def _scan(self, scan: _Scan, rows: Iterator[Item], tenant_id: str, query: MessageQuery) -> bool:
        """Fill `scan` from index rows in order; True when entries remain after the last one consumed."""
        while True:
            batch = list(itertools.islice(rows, max(1, min(100, scan.limit - len(scan.found)))))
            if not batch:
                return False
            items = self.messages_by_id([row["pk"] for row in batch])
            for position, row in enumerate(batch):
                scan.examined += 1
                scan.last_key = row["sendKey"]
                item = items.get(row["pk"])
                if item is not None and _matches(item, row["sendKey"], tenant_id, query):
                    scan.found.append(codec.message_from(item))
                if len(scan.found) >= scan.limit:
                    return position < len(batch) - 1 or _has_more(rows)
                if scan.examined >= MAX_EXAMINED:
                    return position < len(batch) - 1 or _has_more(rows)

    def list_attempts(self, tenant_id: str, message_id: str) -> list[Attempt]:
        """A message's attempts, oldest first."""
        attempts: list[Attempt] = []
        pages = query_pages(
            self._client,
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=values(pk=message_id, prefix=codec.ATTEMPT_PREFIX),
            ConsistentRead=True,
        )
        for rows, _ in pages:
            attempts.extend(codec.attempt_from(row) for row in rows if row.get("tenantId") == tenant_id)
        return attempts

    def recent_attempts(self, tenant_id: str, *, app_id: str | None, after: str | None, limit: int) -> Page[Attempt]:
        """The tenant's attempts in recording order after `after` (GSI `by-feed`, projection ALL, its
        shards merged by `feedKey`). `next_cursor` is None once caught up; `resume_cursor` always
        marks the position."""
        position = decode_cursor(after, str)[0] if after else "0"  # every feedKey starts with a digit
        page = limit if app_id is None else min(1_000, limit * 4)
        streams = [
            self._index_rows(BY_FEED, "feedShard", shard, "feedKey", low="0", high="~", after=position, page=page)
            for shard in codec.list_shards(tenant_id)
        ]
        items: list[Attempt] = []
        for examined, row in enumerate(_merged(streams, "feedKey"), start=1):
            position = row["feedKey"]
            if app_id is None or row.get("appId") == app_id:
                items.append(codec.attempt_from(row))
            if len(items) >= limit:
                break
            if examined >= MAX_EXAMINED:  # more to read, but this call has looked far enough
                return Page(items, encode_cursor(position), resume_cursor=encode_cursor(position))
        cursor = encode_cursor(position)
        return Page(items, cursor if len(items) == limit else None, resume_cursor=cursor)

    def latest_attempt_cursor(self, tenant_id: str) -> str:
        """The position after the tenant's newest attempt: one descending query per feed shard."""
        newest = "0"
        for shard in codec.list_shards(tenant_id):
            with map_exceptions("messages"):
                answer = self._client.query(
                    TableName=self._table,
                    IndexName=BY_FEED,
                    KeyConditionExpression="feedShard = :shard",
                    ExpressionAttributeValues=values(shard=shard),
                    ScanIndexForward=False,
                    Limit=1,
                )
            rows = answer.get("Items", [])
            if rows:
                newest = max(newest, str(from_item(rows[0])["feedKey"]))
        return encode_cursor(newest)

    # ---- cleanup ---------------------------------------------------------------------------

    def waking_page(
        self, shard: int, now_ms: int, *, limit: int, start: Item | None = None
    ) -> tuple[list[Waking], Item | None]:
        """One page of a wake index shard's entries whose time has passed, read back from the table,
        and the key to resume after it (None: the shard has no more due entries)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_WAKE,
            "KeyConditionExpression": "wakeShard = :shard AND wakeAt <= :now",
            "ExpressionAttributeValues": values(shard=f"w{shard:02d}", now=now_ms),
            "Limit": limit,
        }
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        with map_exceptions("wake index"):
            response = self._client.query(**kwargs)
        items = self.messages_by_id([from_item(row)["pk"] for row in response.get("Items", [])])
        found = [
            Waking(codec.message_from(item), item.get("leaseUntil"))
            for item in items.values()
            if item.get("wakeAt") is not None and int(item["wakeAt"]) <= now_ms
        ]
        return found, response.get("LastEvaluatedKey")

    def control(self, name: str) -> Item:
        """A small bookkeeping item of cleanup (e.g. where the schedule sweep stopped)."""
        return self._get(f"ctl#{name}", CONTROL_SK) or {}

    def set_control(self, name: str, **fields: Any) -> None:
        """Replace a bookkeeping item."""
        with map_exceptions("messages"):
            self._client.put_item(
                TableName=self._table, Item=to_item({"pk": f"ctl#{name}", "sk": CONTROL_SK, **fields})
            )


def _merged(streams: list[Iterator[Item]], sort: str) -> Iterator[Item]:
    """Index rows of several partitions in one `sort`-key order (each stream is in that order)."""
    return heapq.merge(*streams, key=lambda row: str(row[sort]))


def _has_more(rows: Iterator[Item]) -> bool:
    return next(rows, None) is not None


def _matches(item: Item, index_key: str, tenant_id: str, query: MessageQuery) -> bool:
    """Whether a message item (current state) belongs on the page its index entry put it on."""
    if item.get("tenantId") != tenant_id or item.get("sendKey") != index_key:
        return False
    if query.app_id is not None and item.get("appId") != query.app_id:
        return False
    if query.schedule_id is not None and item.get("scheduleId") != query.schedule_id:
        return False
    return query.status is None or Status(item["status"]) is query.status

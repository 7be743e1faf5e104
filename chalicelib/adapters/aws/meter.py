"""The usage counters on AWS, kept from the messages table's stream, exactly once per record.

The create and delivery-result transactions write no counter (so they cannot conflict on one). The
table's stream (NEW_AND_OLD_IMAGES) feeds the `meter` Lambda through an event source mapping that
passes only the writes that can count (`FILTERS`), in batches of up to `BATCH_SIZE` records of one
stream shard, in order. A batch's counts (`chalicelib.domain.metering`) are summed per tenant-day and
added in transactions of at most 99 counter updates plus one ledger item, `meter#<eventID>` of the
first record the transaction covers, holding the sequence number of its last (`Put` if absent).

Why that is exactly once: the mapping checkpoints a shard only after a batch succeeds and retries a
failed one from the same record (infinite retries, no bisect, parallelization 1: one batch of a shard
at a time). Every batch therefore starts where the previous one ended, or at an earlier checkpoint
(a retry, or a checkpoint lost after success). The walk (`apply`) reads the ledger at each place a
transaction could have started: found, it skips to the record after the one the ledger names and
looks again; absent, the records from there on were never added. Ledgers are keyed by eventID,
which DynamoDB documents as globally unique, so batches of different shards never share one, and
two runs racing on the same records (a duplicate invocation) meet on the ledger's condition: one
transaction commits, the other finds its ledger and skips. Ledgers expire after `LEDGER_TTL_S`
(streams keep records 24 h, so no batch can start before that).

https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html (BatchSize, retries, bisect)
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_Record.html (eventID)
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.aws import codec, limits
from chalicelib.adapters.aws.dynamo import ConditionFailed, from_item, map_exceptions, to_item, transact, values
from chalicelib.domain.metering import Change, Event, Kind, add_up, usage_of
from chalicelib.domain.model import Status, UsageDelta
from chalicelib.domain.times import day_of
from chalicelib.ports import Clock

BATCH_SIZE = 1000
LEDGER_PREFIX = "meter#"
LEDGER_SK = "ledger"
LEDGER_TTL_S = 2 * 86_400
COUNTERS = ("scheduled", "delivered", "failed", "attempts")
MAX_COUNTERS = limits.TRANSACTION_MAX_ITEMS - 1  # one item of each transaction is its ledger
# The event source mapping's filter (Terraform's `filter_criteria` is held to this): message inserts,
# attempt inserts, a message entering delivered or failed, a redrive. A claim, cancel or TTL delete
# never reaches the function. Filters are ORed, the fields of one filter ANDed.
# https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html
FILTERS: list[dict[str, Any]] = [
    {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [codec.MESSAGE_SK]}}}},
    {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [{"prefix": codec.ATTEMPT_PREFIX}]}}}},
    {
        "eventName": ["MODIFY"],
        "dynamodb": {
            "Keys": {"sk": {"S": [codec.MESSAGE_SK]}},
            "NewImage": {"status": {"S": [Status.DELIVERED.value, Status.FAILED.value]}},
        },
    },
    {
        "eventName": ["MODIFY"],
        "dynamodb": {
            "Keys": {"sk": {"S": [codec.MESSAGE_SK]}},
            "NewImage": {"status": {"S": [Status.SCHEDULED.value]}},
            "OldImage": {"status": {"S": [Status.FAILED.value, Status.CANCELLED.value]}},
        },
    },
]


def filter_patterns() -> list[str]:
    """`FILTERS` as the mapping's `Pattern` strings."""
    return [json.dumps(pattern, separators=(",", ":")) for pattern in FILTERS]


def change_of(record: dict[str, Any]) -> Change | None:
    """A stream record of the messages table as a `Change`; None for items metering ignores."""
    stream = record.get("dynamodb") or {}
    keys = from_item(stream.get("Keys") or {})
    sk = str(keys.get("sk", ""))
    new = from_item(stream.get("NewImage") or {})
    old = from_item(stream.get("OldImage") or {})
    image = new or old
    if not image.get("tenantId"):
        return None
    event = Event(record.get("eventName", "REMOVE"))
    if sk.startswith(codec.ATTEMPT_PREFIX):
        return Change(image["tenantId"], day_of(codec.recorded_at(image)), Kind.ATTEMPT, event)
    if sk != codec.MESSAGE_SK:
        return None
    changed = int(image["changedAt"] if "changedAt" in image else image["createdAt"])
    return Change(image["tenantId"], day_of(changed), Kind.MESSAGE, event, _status(old), _status(new))


def _status(image: dict[str, Any]) -> Status | None:
    return Status(image["status"]) if image.get("status") else None


@dataclass
class Report:
    """What one batch did: records seen, records added now, transactions written, records skipped
    because a ledger showed them added already."""

    records: int = 0
    added: int = 0
    transactions: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        """The report as a log record / handler result."""
        return dataclasses.asdict(self)


class UsageMeter:
    """Adds stream batches to the usage table's counters (see the module docstring)."""

    def __init__(self, client: Any, table: str, clock: Clock, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._table = table
        self._clock = clock
        self._sleep = sleep

    def apply(self, records: Sequence[dict[str, Any]]) -> Report:
        """Add what the batch's records count, each record once however often the batch comes.
        A failure raises (the mapping then retries the batch from its first record)."""
        report = Report(records=len(records))
        deltas = [_delta(record) for record in records]
        i = 0
        while i < len(records):
            if deltas[i] is None:  # counts nothing: no transaction starts here
                i += 1
                continue
            last = self._ledger(str(records[i]["eventID"]))
            if last is not None:
                after = _after(records, last, i)
                report.skipped += after - i
                i = after
                continue
            end = _chunk_end(deltas, i)
            try:
                self._write(records[i:end], deltas[i:end])
            except ConditionFailed:  # a duplicate run wrote this ledger meanwhile: read it
                continue
            report.added += end - i
            report.transactions += 1
            i = end
        return report

    def _ledger(self, event_id: str) -> int | None:
        with map_exceptions("usage ledger"):
            found = self._client.get_item(
                TableName=self._table,
                Key=_ledger_key(event_id),
                ConsistentRead=True,
                ProjectionExpression="#last",
                ExpressionAttributeNames={"#last": "last"},
            )
        item = found.get("Item")
        return None if item is None else int(from_item(item)["last"])

    def _write(self, records: Sequence[dict[str, Any]], deltas: Sequence[UsageDelta | None]) -> None:
        first = str(records[0]["eventID"])
        shard = codec.shard_of(first, codec.USAGE_SHARDS)  # one counter item per tenant-day a batch
        ops: list[dict[str, Any]] = [
            _counter_update(self._table, total, shard) for total in add_up(d for d in deltas if d is not None)
        ]
        ledger = {
            "pk": f"{LEDGER_PREFIX}{first}",
            "day": LEDGER_SK,
            "last": _sequence(records[-1]),
            "records": len(records),
            "expiresAt": self._clock.now_ms() // 1000 + LEDGER_TTL_S,
        }
        put = {"TableName": self._table, "Item": to_item(ledger), "ConditionExpression": "attribute_not_exists(pk)"}
        ops.append({"Put": put})
        transact(self._client, ops, "usage counters", sleep=self._sleep)


def _delta(record: dict[str, Any]) -> UsageDelta | None:
    change = change_of(record)
    return None if change is None else usage_of(change)


def _sequence(record: dict[str, Any]) -> int:
    return int(record["dynamodb"]["SequenceNumber"])


def _after(records: Sequence[dict[str, Any]], last: int, start: int) -> int:
    """The index of the first record after sequence number `last` (at least one past `start`)."""
    i = start + 1
    while i < len(records) and _sequence(records[i]) <= last:
        i += 1
    return i


def _chunk_end(deltas: Sequence[UsageDelta | None], start: int) -> int:
    """Where the transaction starting at `start` ends: before the record that would need a 100th item."""
    days: set[tuple[str, str]] = set()
    end = start
    while end < len(deltas):
        delta = deltas[end]
        if delta is not None:
            key = (delta.tenant_id, delta.day)
            if key not in days and len(days) == MAX_COUNTERS:
                break
            days.add(key)
        end += 1
    return end


def _ledger_key(event_id: str) -> dict[str, Any]:
    return to_item({"pk": f"{LEDGER_PREFIX}{event_id}", "day": LEDGER_SK})


def _counter_update(table: str, delta: UsageDelta, shard: int) -> dict[str, Any]:
    adds = {name: getattr(delta, name) for name in COUNTERS if getattr(delta, name)}
    return {
        "Update": {
            "TableName": table,
            "Key": to_item({"pk": f"{delta.tenant_id}#{shard}", "day": delta.day}),
            "UpdateExpression": "ADD " + ", ".join(f"{name} :{name}" for name in adds),
            "ExpressionAttributeValues": values(**adds),
        }
    }

"""The DynamoDB Streams event source mapping: Lambda's poller on a table's stream, with AWS's semantics.

Per shard, in order: read the records after the shard's checkpoint, keep those matching the mapping's
filters (ORed; a filtered-out record is passed over, as Lambda does), invoke the function with up to
`batch_size` of them in the event AWS sends (`Records` of `eventID`, `eventName`, `eventSource`,
`awsRegion`, `dynamodb` {`Keys`, `NewImage`, `OldImage`, `SequenceNumber`, `ApproximateCreationDateTime`
in epoch seconds ...}, `eventSourceARN`), and move the checkpoint past the batch only when the
invocation succeeded. A failed batch is retried from the same record (no bisect, infinite retries:
the meter's mapping); one batch of a shard at a time (parallelization factor 1). With a batching window,
a batch short of `batch_size` waits until its first record has been seen for `batching_window_s`.
https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html, .../with-ddb-filtering.html

`StreamPoller` is synchronous (tests drive it directly); `StreamMappingDriver` runs it for `make run-aws`.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("awslocal.streams")

POLL_S = 0.5


def matches(pattern: Any, value: Any) -> bool:
    """Whether `value` (part of a record) matches a filter `pattern`: objects match field by field,
    a list of rules matches when one does (an exact value, or `{"prefix": ...}`)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(p, value[k]) for k, p in pattern.items())
    if isinstance(pattern, list):
        return any(_rule(rule, value) for rule in pattern)
    return bool(pattern == value)


def _rule(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict) and "prefix" in rule:
        return isinstance(value, str) and value.startswith(str(rule["prefix"]))
    return bool(rule == value)


def passes(filters: Sequence[dict[str, Any]], record: dict[str, Any]) -> bool:
    """A record reaches the function if it matches one filter (no filters: every record)."""
    return not filters or any(matches(f, record) for f in filters)


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda's event carries it."""
    stream = dict(record.get("dynamodb") or {})
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime.datetime):
        stream["ApproximateCreationDateTime"] = created.timestamp()
    return {**{k: v for k, v in record.items() if k != "dynamodb"}, "dynamodb": stream, "eventSourceARN": stream_arn}


@dataclass
class StreamPoller:
    """One stream mapping over a `dynamodbstreams` client; `invoke(event)` raises when the function failed."""

    streams: Any
    stream_arn: str
    invoke: Callable[[dict[str, Any]], Any]
    filters: Sequence[dict[str, Any]] = ()
    batch_size: int = 100
    retry_s: float = 0.0  # pause before retrying a failed batch
    batching_window_s: float = 0.0
    monotonic: Callable[[], float] = time.monotonic
    gathering: dict[str, float] = field(default_factory=dict)  # shard id -> when its short batch was first seen
    checkpoints: dict[str, str] = field(default_factory=dict)  # shard id -> last sequence number passed
    invocations: int = 0
    failures: int = 0

    def poll(self, *, max_failures: int | None = None) -> int:
        """Every shard up to its end; returns the records handed to the function. A batch that fails is
        retried from its first record until it succeeds (or `max_failures` in a row: then it raises)."""
        handed = 0
        for shard in self._shards():
            handed += self._drain(shard, max_failures)
        return handed

    def _shards(self) -> list[str]:
        shards, start = [], None
        while True:
            kwargs = {"StreamArn": self.stream_arn, **({"ExclusiveStartShardId": start} if start else {})}
            description = self.streams.describe_stream(**kwargs)["StreamDescription"]
            shards += [s["ShardId"] for s in description.get("Shards", [])]
            start = description.get("LastEvaluatedShardId")
            if not start:
                return shards

    def _drain(self, shard: str, max_failures: int | None) -> int:
        handed = 0
        while True:
            records = self._read(shard)
            if not records:
                return handed
            kept = [r for r in records if passes(self.filters, r)]
            batch = kept[: self.batch_size]
            if not batch:
                self.checkpoints[shard] = records[-1]["dynamodb"]["SequenceNumber"]
                continue
            if len(batch) < self.batch_size and self._gathering(shard):
                return handed
            self.gathering.pop(shard, None)
            self._invoke(batch, max_failures)
            handed += len(batch)
            last = batch[-1]["dynamodb"]["SequenceNumber"]
            if len(kept) <= self.batch_size:  # filtered-out records after the batch are passed too
                last = records[-1]["dynamodb"]["SequenceNumber"]
            self.checkpoints[shard] = last

    def _gathering(self, shard: str) -> bool:
        """Whether a short batch of `shard` is still inside its batching window."""
        if self.batching_window_s <= 0:
            return False
        since = self.gathering.setdefault(shard, self.monotonic())
        return self.monotonic() - since < self.batching_window_s

    def _read(self, shard: str) -> list[dict[str, Any]]:
        after = self.checkpoints.get(shard)
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        iterator = self.streams.get_shard_iterator(**kwargs)["ShardIterator"]
        return list(self.streams.get_records(ShardIterator=iterator, Limit=1000).get("Records", []))

    def _invoke(self, batch: list[dict[str, Any]], max_failures: int | None) -> None:
        event = {"Records": [lambda_record(r, self.stream_arn) for r in batch]}
        failed = 0
        while True:
            self.invocations += 1
            try:
                self.invoke(event)
                return
            except Exception:
                self.failures += 1
                failed += 1
                if max_failures is not None and failed >= max_failures:
                    raise
                log.warning("stream mapping: the batch failed; retrying it from its first record", exc_info=True)
                time.sleep(self.retry_s)


class StreamMappingDriver:
    """`make run-aws`: a `StreamPoller` every `POLL_S` on a thread, invoking a Lambda process."""

    def __init__(self, streams: Any, mapping: Any, function: Any) -> None:
        self._function = function
        self._loop: asyncio.AbstractEventLoop | None = None
        self.poller = StreamPoller(
            streams,
            mapping.stream_arn,
            self._call,
            filters=mapping.filters,
            batch_size=mapping.batch_size,
            retry_s=1.0,
            batching_window_s=mapping.batching_window_s,
        )
        self._mapping = mapping

    def _call(self, event: dict[str, Any]) -> None:
        assert self._loop is not None
        result = asyncio.run_coroutine_threadsafe(self._function.invoke(event), self._loop).result()
        if result.failed:
            raise RuntimeError(f"{self._function.function.key} failed: {result.error}: {result.message}")

    async def run(self) -> None:
        """Poll until cancelled."""
        self._loop = asyncio.get_running_loop()
        log.info("stream mapping: %s -> %s, batches of <= %d, window %d s, %d filters",
                 self._mapping.stream_arn.split("/")[1], self._function.function.key, self._mapping.batch_size,
                 self._mapping.batching_window_s, len(self._mapping.filters))  # fmt: skip
        while True:
            try:
                await asyncio.to_thread(self.poller.poll)
            except Exception:
                log.exception("stream mapping: polling failed")
            await asyncio.sleep(POLL_S)

"""`ScheduleStore` on DynamoDB: the `schedules` table, and each run written with the schedule's advance.

One item per schedule (`tenantId`, `id`). While a schedule is active with a next run it carries
`dueShard` (`d<0-7>`) and `nextRunAt`, its keys in the sparse GSI `by-due`: what the cleanup Lambda's
repair pass (and `dispatch`) query for schedules whose timer did not fire.

`record_runs` writes one item (its runs, their idempotency records, the `scheduled` counter and the
schedule's new bookkeeping under the `version` + `nextRunAt` condition) in one `TransactWriteItems`
when it fits (a fired run always does). A catch-up with more runs than one transaction holds writes
its runs first through the message store (idempotent by their keys) and then the schedule under the
same condition: a crash or a lost race in between leaves runs the next step finds by key again, so
none is created twice; a lost race may leave a run the caller's change (pause) then cancels.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

from chalicelib.adapters.aws import codec, limits, tables
from chalicelib.adapters.aws.dynamo import (
    Item,
    count_of_tenant,
    delete_of_tenant,
    from_item,
    map_exceptions,
    query_pages,
    to_item,
    transact,
    values,
)
from chalicelib.adapters.aws.messages import DynamoMessageStore
from chalicelib.adapters.aws.quota import QuotaCounter
from chalicelib.adapters.cursor import decode_cursor, encode_cursor
from chalicelib.domain.errors import ConcurrentUpdate, QuotaExceeded
from chalicelib.domain.model import Page
from chalicelib.domain.recurrence import MissedRuns, Recurrence, Schedule, ScheduleState
from chalicelib.ports import Clock, Inserted, RunsRecorded, ScheduleRuns

DUE_SHARDS = 8
BY_DUE = tables.BY_DUE
# ops per run: message, payload, idempotency record; plus the counter and the schedule
_RUNS_PER_TRANSACTION = (limits.TRANSACTION_MAX_ITEMS - 2) // 3


def due_shard(schedule_id: str) -> str:
    """The `by-due` partition a schedule falls in."""
    return f"d{codec.shard_of(schedule_id, DUE_SHARDS)}"


def schedule_item(schedule: Schedule) -> Item:
    """The stored item of a schedule (None values are left out by `to_item`)."""
    recurrence = schedule.recurrence
    item: Item = {
        "tenantId": schedule.tenant_id,
        "id": schedule.id,
        "appId": schedule.app_id,
        "payload": schedule.payload_json,
        "cron": recurrence.cron,
        "everyMs": recurrence.every_ms,
        "anchorMs": recurrence.anchor_ms,
        "timezone": recurrence.timezone,
        "missedRuns": schedule.missed_runs.value,
        "state": schedule.state.value,
        "createdAt": schedule.created_at,
        "updatedAt": schedule.updated_at,
        "nextRunAt": schedule.next_run_at,
        "startAt": schedule.start_at,
        "endAt": schedule.end_at,
        "lastRunAt": schedule.last_run_at,
        "skippedCount": schedule.skipped_count,
        "version": schedule.version,
    }
    if schedule.state is ScheduleState.ACTIVE and schedule.next_run_at is not None:
        item["dueShard"] = due_shard(schedule.id)
    return item


def schedule_from(item: Item) -> Schedule:
    """A `Schedule` from its stored item."""
    return Schedule(
        id=item["id"],
        tenant_id=item["tenantId"],
        app_id=item["appId"],
        payload_json=item["payload"],
        recurrence=Recurrence(
            timezone=item["timezone"],
            cron=item.get("cron"),
            every_ms=item.get("everyMs"),
            anchor_ms=int(item.get("anchorMs", 0)),
        ),
        missed_runs=MissedRuns(item["missedRuns"]),
        state=ScheduleState(item["state"]),
        created_at=int(item["createdAt"]),
        updated_at=int(item["updatedAt"]),
        next_run_at=item.get("nextRunAt"),
        start_at=item.get("startAt"),
        end_at=item.get("endAt"),
        last_run_at=item.get("lastRunAt"),
        skipped_count=int(item.get("skippedCount", 0)),
        version=int(item["version"]),
    )


class DynamoScheduleStore:
    """Schedules in the `schedules` table; runs go in as the message store's creates do."""

    def __init__(
        self, client: Any, *, table: str, messages: DynamoMessageStore, usage_table: str, clock: Clock
    ) -> None:
        self._client = client
        self._table = table
        self._messages = messages
        self._quota = QuotaCounter(client, usage_table, clock)

    # ---- the API's reads and writes -----------------------------------------------------------

    def create_schedule(self, schedule: Schedule, *, max_schedules: int | None) -> bool:
        """Store a new schedule unless the tenant has `max_schedules` (a `COUNT` of its partition just
        before the put, as for apps: concurrent creates of one tenant may pass together)."""
        if max_schedules is not None and self._count(schedule.tenant_id, stop_at=max_schedules) >= max_schedules:
            return False
        with map_exceptions("schedules"):
            self._client.put_item(
                TableName=self._table,
                Item=to_item(schedule_item(schedule)),
                ConditionExpression="attribute_not_exists(id)",
            )
        return True

    def get_schedule(self, tenant_id: str, schedule_id: str) -> Schedule | None:
        """One schedule of a tenant (a strongly consistent read)."""
        with map_exceptions("schedules"):
            found = self._client.get_item(
                TableName=self._table, Key=to_item({"tenantId": tenant_id, "id": schedule_id}), ConsistentRead=True
            )
        item = found.get("Item")
        return None if item is None else schedule_from(from_item(item))

    def list_schedules(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page[Schedule]:
        """A tenant's schedules by id."""
        condition, named = "tenantId = :tenant", {"tenant": tenant_id}
        if cursor:
            condition += " AND id > :after"
            named["after"] = decode_cursor(cursor, str)[0]
        items: list[Item] = []
        for page, _ in query_pages(
            self._client,
            TableName=self._table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values(**named),
            Limit=limit + 1,
        ):
            items.extend(page)
            if len(items) > limit:
                break
        found = [schedule_from(item) for item in items[:limit]]
        return Page(found, encode_cursor(found[-1].id) if len(items) > limit else None)

    def count_schedules(self, tenant_id: str) -> int:
        """How many schedules the tenant has."""
        return self._count(tenant_id, stop_at=2**31)

    def _count(self, tenant_id: str, *, stop_at: int) -> int:
        return count_of_tenant(self._client, self._table, tenant_id, stop_at=stop_at, what="schedules")

    def update_schedule(self, schedule: Schedule, *, expected_version: int) -> None:
        """Compare-and-set on `version` (a missing schedule is `ConcurrentUpdate` too)."""
        with map_exceptions(f"schedule {schedule.id}"):
            self._client.put_item(**self._put(schedule, "version = :expected", expected=expected_version))

    def delete_schedule(self, tenant_id: str, schedule_id: str) -> bool:
        """Delete; False when the tenant has no such schedule. Its run messages stay."""
        return delete_of_tenant(self._client, self._table, tenant_id, schedule_id, what=f"schedule {schedule_id}")

    # ---- the due index --------------------------------------------------------------------------

    def due_schedules(self, until_ms: int, *, limit: int) -> list[Schedule]:
        """Up to `limit` active schedules with `nextRunAt <= until_ms`, earliest first (every shard of
        `by-due`, merged; the index is eventually consistent, so a write's condition re-checks)."""
        shards = [self._due_page(f"d{n}", "nextRunAt <= :until", limit, until=until_ms) for n in range(DUE_SHARDS)]
        merged = heapq.merge(*shards, key=lambda item: (int(item["nextRunAt"]), item["id"]))
        return [schedule_from(item) for _, item in zip(range(limit), merged, strict=False)]

    def next_run_at(self) -> int | None:
        """The earliest `nextRunAt` of any active schedule (one item per shard)."""
        firsts = [self._due_page(f"d{n}", None, 1) for n in range(DUE_SHARDS)]
        found = [int(page[0]["nextRunAt"]) for page in firsts if page]
        return min(found, default=None)

    def _due_page(self, shard: str, condition: str | None, limit: int, **named: int) -> list[Item]:
        key = "dueShard = :shard" + (f" AND {condition}" if condition else "")
        items: list[Item] = []
        for page, _ in query_pages(
            self._client,
            TableName=self._table,
            IndexName=BY_DUE,
            KeyConditionExpression=key,
            ExpressionAttributeValues=values(shard=shard, **named),
            Limit=limit,
        ):
            items.extend(page)
            if len(items) >= limit:
                break
        return items[:limit]

    # ---- runs ---------------------------------------------------------------------------------

    def record_runs(self, items: Sequence[ScheduleRuns], *, idempotency_ttl_ms: int) -> list[RunsRecorded]:
        """Each item on its own (see the module docstring); results in order."""
        results: list[RunsRecorded] = []
        for item in items:
            try:
                inserted = self._record(item, idempotency_ttl_ms)
            except (ConcurrentUpdate, QuotaExceeded) as exc:
                results.append(RunsRecorded(item.schedule.id, error=exc))
                continue
            results.append(RunsRecorded(item.schedule.id, inserted=inserted))
        return results

    def _record(self, item: ScheduleRuns, ttl_ms: int) -> list[Inserted]:
        if len(item.runs) > _RUNS_PER_TRANSACTION:
            return self._record_large(item, ttl_ms)
        replays = self._messages.replays(item.runs)
        pending = [run for i, run in enumerate(item.runs) if i not in replays]
        usage = item.usage
        reserved = self._quota.take(usage.tenant_id, usage.day, len(pending), item.quota)
        # the usage counters follow from the messages' stream records (adapters.aws.meter)
        ops: list[dict[str, Any]] = [op for run in pending for op in self._messages.create_ops(run, ttl_ms)]
        ops.append(self._schedule_put(item))
        try:
            transact(self._client, ops, f"schedule {item.schedule.id}")
        except BaseException:
            self._quota.give_back(usage.tenant_id, usage.day, reserved)
            raise
        created = iter(pending)
        return [replays[i] if i in replays else Inserted(next(created).message, True) for i in range(len(item.runs))]

    def _record_large(self, item: ScheduleRuns, ttl_ms: int) -> list[Inserted]:
        """Runs first (idempotent by key), then the schedule under its condition (see the module)."""
        current = self.get_schedule(item.schedule.tenant_id, item.schedule.id)
        if (
            current is None
            or current.version != item.schedule.version
            or current.next_run_at != item.expected_next_run_at
        ):
            raise ConcurrentUpdate(f"schedule {item.schedule.id} changed meanwhile; read it again")
        inserted = self._messages.insert_messages(
            list(item.runs), item.usage, idempotency_ttl_ms=ttl_ms, quota=item.quota
        )
        with map_exceptions(f"schedule {item.schedule.id}"):
            self._client.put_item(**self._schedule_put(item)["Put"])
        return inserted

    def _schedule_put(self, item: ScheduleRuns) -> dict[str, Any]:
        schedule = item.schedule
        if item.expected_next_run_at is None:
            return {
                "Put": self._put(
                    schedule, "version = :version AND attribute_not_exists(nextRunAt)", version=schedule.version
                )
            }
        return {
            "Put": self._put(
                schedule,
                "version = :version AND nextRunAt = :next",
                version=schedule.version,
                next=item.expected_next_run_at,
            )
        }

    def _put(self, schedule: Schedule, condition: str, **named: int) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": to_item(schedule_item(schedule)),
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values(**named),
        }

"""A per-tenant cap on delivery attempts in flight on AWS, so one tenant cannot take the delivery pool.

The pool on AWS is the release queue's event source mapping (`delivery_max_concurrency` invocations,
50 by default): a tenant whose endpoints hang holds each invocation until the attempt deadline, and
everyone else's messages wait in the queue. Each attempt therefore first takes one of its tenant's
`cap` slots: lease items `pk = <tenant>#slot`, `day = <k>` in the usage table, found free with one
strongly consistent `Query` and taken with one conditional `UpdateItem` (free: never taken, released,
or its lease ran out, so a crashed invocation cannot leak a slot). A tenant at its cap gets its
message re-queued with a short SQS delay instead: the invocation ends at once and frees its place
for other tenants. Cost: a query and two writes per attempt, for tenants that deliver at all.
"""

from __future__ import annotations

import random
from typing import Any

from chalicelib.adapters.aws.dynamo import ConditionFailed, map_exceptions, query_pages, to_item, values

SLOT_SHARD = "slot"


class TenantSlots:
    """At most `cap` leases per tenant; see the module docstring."""

    def __init__(self, client: Any, table: str, cap: int, *, choose: random.Random | None = None) -> None:
        self._client = client
        self._table = table
        self._cap = cap
        self._random = choose or random.Random()  # noqa: S311 - spreads contention, not a secret

    def take(self, tenant_id: str, owner: str, *, now_ms: int, lease_until: int) -> str | None:
        """A slot held by `owner` until `lease_until`, or None when the tenant has `cap` live leases."""
        held = self._held(tenant_id, now_ms)
        free = [f"{k:04d}" for k in range(self._cap) if f"{k:04d}" not in held]
        self._random.shuffle(free)
        for slot in free[:3]:  # another invocation may take the same one first: try a few
            try:
                with map_exceptions("delivery slots"):
                    self._client.update_item(
                        TableName=self._table,
                        Key=self._key(tenant_id, slot),
                        UpdateExpression="SET leaseUntil = :until, leaseOwner = :owner",
                        ConditionExpression="attribute_not_exists(leaseUntil) OR leaseUntil < :now",
                        ExpressionAttributeValues=values(until=lease_until, owner=owner, now=now_ms),
                    )
            except ConditionFailed:
                continue
            return slot
        return None

    def give_back(self, tenant_id: str, slot: str, owner: str) -> None:
        """Release a slot this owner holds (a lease taken over meanwhile is left alone)."""
        try:
            with map_exceptions("delivery slots"):
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(tenant_id, slot),
                    UpdateExpression="REMOVE leaseUntil, leaseOwner",
                    ConditionExpression="leaseOwner = :owner",
                    ExpressionAttributeValues=values(owner=owner),
                )
        except ConditionFailed:
            return

    def _held(self, tenant_id: str, now_ms: int) -> set[str]:
        held: set[str] = set()
        pages = query_pages(
            self._client,
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=values(pk=f"{tenant_id}#{SLOT_SHARD}"),
            ConsistentRead=True,
        )
        for rows, _ in pages:
            held.update(row["day"] for row in rows if int(row.get("leaseUntil", 0)) >= now_ms)
        return held

    def _key(self, tenant_id: str, slot: str) -> dict[str, Any]:
        return to_item({"pk": f"{tenant_id}#{SLOT_SHARD}", "day": slot})

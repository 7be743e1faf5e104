"""The daily message quota on DynamoDB, exact: one counter item per tenant-day in the usage table.

The metered counters are sharded (a busy tenant-day is not one hot item), so no single condition can
hold them to a limit. The quota therefore has its own item, `pk = <tenant>#quota`, which a write that
schedules deliveries first reserves from with one conditional `ADD` (check and count in one atomic
step: two racing requests cannot both take the last unit). What the write then does not store (an
idempotent replay, a failed transaction) is given back. A crash between the reservation and the write
leaves it taken: the quota errs towards refusing, never towards delivering more than the plan allows.
Tenants without a quota never touch the item. Single-item conditional updates are serialised by
DynamoDB without transaction conflicts; a reservation covers a whole request (up to 100 messages).
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.aws.dynamo import ConditionFailed, map_exceptions, to_item, values
from chalicelib.domain.limits import quota_exceeded
from chalicelib.ports import Clock

QUOTA_SHARD = "quota"


class QuotaCounter:
    """Reservations against the tenant-day's quota item."""

    def __init__(self, client: Any, table: str, clock: Clock) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def take(self, tenant_id: str, day: str, count: int, quota: int | None) -> int:
        """Reserve `count` of the day's quota or raise `QuotaExceeded`; returns what was reserved."""
        if quota is None or count <= 0:
            return 0
        if count > quota:  # a request larger than a whole day's quota
            raise quota_exceeded(quota, None, self._clock.now_ms())
        try:
            with map_exceptions("quota"):
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(tenant_id, day),
                    UpdateExpression="ADD scheduled :count",
                    ConditionExpression="attribute_not_exists(scheduled) OR scheduled <= :room",
                    ExpressionAttributeValues=values(count=count, room=quota - count),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ConditionFailed as failed:
            used = int((failed.item or {}).get("scheduled", quota))
            raise quota_exceeded(quota, used, self._clock.now_ms()) from failed
        return count

    def give_back(self, tenant_id: str, day: str, count: int) -> None:
        """Return reserved units the write did not use."""
        if count <= 0:
            return
        with map_exceptions("quota"):
            self._client.update_item(
                TableName=self._table,
                Key=self._key(tenant_id, day),
                UpdateExpression="ADD scheduled :count",
                ExpressionAttributeValues=values(count=-count),
            )

    def _key(self, tenant_id: str, day: str) -> dict[str, Any]:
        return to_item({"pk": f"{tenant_id}#{QUOTA_SHARD}", "day": day})

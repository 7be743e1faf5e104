"""DynamoDB stores for tenants, API keys, apps and usage counters (messages live in `messages`; the
counters are written by the meter, `meter`, from the messages table's stream).

Every store takes a boto3 DynamoDB *client* and its table name(s); errors leave through
`dynamo.map_exceptions` as domain errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.adapters.aws import codec
from chalicelib.adapters.aws.dynamo import (
    ConditionFailed,
    Item,
    count_of_tenant,
    delete_of_tenant,
    from_item,
    map_exceptions,
    query_pages,
    to_item,
    values,
)
from chalicelib.adapters.aws.sealing import Sealer
from chalicelib.adapters.aws.tables import BY_ID, BY_TENANT, KEY_PENDING
from chalicelib.adapters.cursor import decode_cursor, encode_cursor
from chalicelib.domain.model import ApiKey, App, Page, Scope, Tenant, UsageDay

COUNTERS = ("scheduled", "delivered", "failed", "attempts")
PENDING = "pending"


class DynamoTenantStore:
    """`TenantStore`; the item also keeps the tenant's API Gateway usage key (for the authorizer)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def put_tenant(self, tenant: Tenant) -> None:
        """Create or replace a tenant (its usage key, if any, is kept)."""
        with map_exceptions("tenants"):
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"id": tenant.id}),
                UpdateExpression="SET kind = :kind, #name = :name, #plan = :plan, createdAt = :created",
                ExpressionAttributeNames={"#name": "name", "#plan": "plan"},
                ExpressionAttributeValues=values(
                    kind="tenant", name=tenant.name, plan=tenant.plan, created=tenant.created_at
                ),
            )

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        """One tenant."""
        item = self.record(tenant_id)
        return None if item is None else Tenant(item["id"], item["name"], item["plan"], int(item["createdAt"]))

    def record(self, tenant_id: str) -> Item | None:
        """The tenant's whole item (with `usageKey`/`usageKeyId` once provisioned)."""
        with map_exceptions("tenants"):
            found = self._client.get_item(TableName=self._table, Key=to_item({"id": tenant_id}))
        item = found.get("Item")
        return None if item is None else from_item(item)

    def set_usage_key(self, tenant_id: str, key_id: str, key_value: str) -> None:
        """Remember the tenant's API Gateway API key (the authorizer returns its value)."""
        with map_exceptions("tenants"):
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"id": tenant_id}),
                UpdateExpression="SET usageKeyId = :id, usageKey = :value REMOVE keyPending",
                ConditionExpression="attribute_exists(id)",
                ExpressionAttributeValues=values(id=key_id, value=key_value),
            )

    def mark_key_pending(self, tenant_id: str) -> None:
        """Put the tenant on the sparse `key-pending` index: cleanup makes its usage key."""
        with map_exceptions("tenants"):
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"id": tenant_id}),
                UpdateExpression="SET keyPending = :pending",
                ConditionExpression="attribute_exists(id) AND attribute_not_exists(usageKey)",
                ExpressionAttributeValues=values(pending=PENDING),
            )

    def key_pending(self, *, limit: int) -> list[str]:
        """Ids of tenants still waiting for their usage key, oldest first by id."""
        with map_exceptions("tenants"):
            response = self._client.query(
                TableName=self._table,
                IndexName=KEY_PENDING,
                KeyConditionExpression="keyPending = :pending",
                ExpressionAttributeValues=values(pending=PENDING),
                Limit=limit,
            )
        return [str(from_item(row)["id"]) for row in response.get("Items", [])]

    def list_tenants(self, *, cursor: str | None, limit: int) -> Page[Tenant]:
        """Tenants by id (GSI `all`)."""
        condition, named = "kind = :kind", {"kind": "tenant"}
        if cursor:
            condition, named["after"] = condition + " AND id > :after", decode_cursor(cursor, str)[0]
        with map_exceptions("tenants"):
            response = self._client.query(
                TableName=self._table,
                IndexName=BY_ID,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values(**named),
                Limit=limit + 1,
            )
        rows = [from_item(item) for item in response.get("Items", [])]
        items = [Tenant(r["id"], r["name"], r["plan"], int(r["createdAt"])) for r in rows[:limit]]
        return Page(items, encode_cursor(items[-1].id) if len(rows) > limit else None)


def _key_item(key: ApiKey) -> Item:
    return {
        "tokenHash": key.token_hash,
        "id": key.id,
        "tenantId": key.tenant_id,
        "name": key.name,
        "scopes": sorted(key.scopes),
        "createdAt": key.created_at,
        "createdKey": f"{key.created_at:015d}#{key.id}",
        "revokedAt": key.revoked_at,
    }


def _key_from(item: Item) -> ApiKey:
    return ApiKey(
        id=item["id"],
        tenant_id=item["tenantId"],
        name=item["name"],
        scopes=frozenset(Scope(s) for s in item.get("scopes", [])),
        token_hash=item["tokenHash"],
        created_at=int(item["createdAt"]),
        revoked_at=item.get("revokedAt"),
    )


class DynamoKeyStore:
    """`KeyStore`: items keyed by token hash; GSI `by-tenant` lists a tenant's keys oldest first."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def put_key(self, key: ApiKey) -> None:
        """Create or replace a key (upsert by id: an older item of the same id under another hash goes)."""
        stale = [k for k in self.list_keys(key.tenant_id) if k.id == key.id and k.token_hash != key.token_hash]
        with map_exceptions("keys"):
            self._client.put_item(TableName=self._table, Item=to_item(_key_item(key)))
            for old in stale:
                self._client.delete_item(TableName=self._table, Key=to_item({"tokenHash": old.token_hash}))

    def create_key(self, key: ApiKey, *, max_keys: int | None) -> bool:
        """Store a new key if the tenant has fewer than `max_keys` live keys (counted from the tenant's index
        just before the put: concurrent creates of one tenant may pass together, by at most their number)."""
        if max_keys is not None and sum(k.revoked_at is None for k in self.list_keys(key.tenant_id)) >= max_keys:
            return False
        self.put_key(key)
        return True

    def find_key(self, token_hash: str) -> ApiKey | None:
        """The key with this hash (a strongly consistent read: a revoke is seen at once)."""
        with map_exceptions("keys"):
            found = self._client.get_item(
                TableName=self._table, Key=to_item({"tokenHash": token_hash}), ConsistentRead=True
            )
        item = found.get("Item")
        return None if item is None else _key_from(from_item(item))

    def list_keys(self, tenant_id: str) -> list[ApiKey]:
        """A tenant's keys, oldest first."""
        keys: list[ApiKey] = []
        pages = query_pages(
            self._client,
            TableName=self._table,
            IndexName=BY_TENANT,
            KeyConditionExpression="tenantId = :tenant",
            ExpressionAttributeValues=values(tenant=tenant_id),
        )
        for rows, _ in pages:
            keys.extend(_key_from(row) for row in rows)
        return keys

    def revoke_key(self, tenant_id: str, key_id: str, at_ms: int) -> bool:
        """Mark a live key of the tenant revoked."""
        match = next((k for k in self.list_keys(tenant_id) if k.id == key_id and k.revoked_at is None), None)
        if match is None:
            return False
        try:
            with map_exceptions("keys"):
                self._client.update_item(
                    TableName=self._table,
                    Key=to_item({"tokenHash": match.token_hash}),
                    UpdateExpression="SET revokedAt = :at",
                    ConditionExpression="tenantId = :tenant AND attribute_not_exists(revokedAt)",
                    ExpressionAttributeValues=values(at=at_ms, tenant=tenant_id),
                )
        except ConditionFailed:
            return False
        return True


class DynamoAppStore:
    """`AppStore`; header values and signing secrets are sealed by `sealer` before they are stored."""

    def __init__(self, client: Any, table: str, sealer: Sealer) -> None:
        self._client = client
        self._table = table
        self._sealer = sealer

    def put_app(self, app: App) -> None:
        """Create or replace an app; values read back sealed are stored as they are (no KMS call for them)."""
        plain = [*app.headers.values(), *(s.value for s in app.secrets)]
        sealed = self._sealer.seal(app.tenant_id, plain)
        headers, secrets = sealed[: len(app.headers)], sealed[len(app.headers) :]
        with map_exceptions("apps"):
            self._client.put_item(TableName=self._table, Item=to_item(codec.app_item(app, headers, secrets)))

    def create_app(self, app: App, *, max_apps: int | None) -> bool:
        """Store a new app if the tenant has fewer than `max_apps` (a `COUNT` query of its partition just
        before the put: concurrent creates of one tenant may pass together, by at most their number)."""
        if max_apps is not None and self._count(app.tenant_id, stop_at=max_apps) >= max_apps:
            return False
        self.put_app(app)
        return True

    def _count(self, tenant_id: str, *, stop_at: int) -> int:
        return count_of_tenant(self._client, self._table, tenant_id, stop_at=stop_at, what="apps")

    def get_app(self, tenant_id: str, app_id: str) -> App | None:
        """One app of a tenant, its values still sealed (the API function never opens them)."""
        item = self.app_item(tenant_id, app_id)
        return None if item is None else codec.app_from(item)

    def app_item(self, tenant_id: str, app_id: str) -> Item | None:
        """The stored app item."""
        with map_exceptions("apps"):
            found = self._client.get_item(TableName=self._table, Key=to_item({"tenantId": tenant_id, "id": app_id}))
        item = found.get("Item")
        return None if item is None else from_item(item)

    def open_app(self, item: Item) -> App:
        """An app item with its header values and secrets in clear (delivery function only: kms:Decrypt)."""
        headers, secrets = codec.sealed_values(item)
        opened = self._sealer.open(item["tenantId"], [*headers, *secrets])
        return codec.app_from(item, (opened[: len(headers)], opened[len(headers) :]))

    def list_apps(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page[App]:
        """A tenant's apps by id."""
        condition, named = "tenantId = :tenant", {"tenant": tenant_id}
        if cursor:
            condition, named["after"] = condition + " AND id > :after", decode_cursor(cursor, str)[0]
        with map_exceptions("apps"):
            response = self._client.query(
                TableName=self._table,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values(**named),
                Limit=limit + 1,
            )
        rows = [from_item(item) for item in response.get("Items", [])]
        items = [codec.app_from(row) for row in rows[:limit]]
        return Page(items, encode_cursor(items[-1].id) if len(rows) > limit else None)

    def delete_app(self, tenant_id: str, app_id: str) -> bool:
        """Delete an app of a tenant."""
        return delete_of_tenant(self._client, self._table, tenant_id, app_id, what="apps")


class DynamoUsageStore:
    """`UsageStore` over the sharded counters: one Query per shard, summed per day."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def usage(self, tenant_id: str, first_day: str, last_day: str) -> list[UsageDay]:
        """Days with counts, oldest first, bounds inclusive."""
        days: dict[str, UsageDay] = {}
        for shard in range(codec.USAGE_SHARDS):
            pages = query_pages(
                self._client,
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND #day BETWEEN :first AND :last",
                ExpressionAttributeNames={"#day": "day"},
                ExpressionAttributeValues=values(pk=f"{tenant_id}#{shard}", first=first_day, last=last_day),
            )
            for rows, _ in pages:
                _add_rows(days, rows)
        return [days[day] for day in sorted(days)]


def _add_rows(days: dict[str, UsageDay], rows: Iterable[Item]) -> None:
    for row in rows:
        day = days.setdefault(row["day"], UsageDay(row["day"]))
        for name in COUNTERS:
            setattr(day, name, getattr(day, name) + int(row.get(name, 0)))

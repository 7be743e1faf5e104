"""The DynamoDB tables, as data: the one definition tests, benchmarks and Terraform are held to.

Each entry of `TABLES` is a `create_table` keyword set whose `TableName` is the table's suffix; the
deployed name is `<prefix>-<suffix>` (`SCHEDULER_TABLE_PREFIX`, e.g. `scheduler-prod`). `TTL` names
the time-to-live attribute of the tables that expire items. All tables are on-demand.

| table | key | what |
|---|---|---|
| tenants | `id` | tenant, plan, usage key; GSI `all` (`kind`, `id`); sparse `key-pending`: keys still to make |
| keys | `tokenHash` | API keys by SHA-256; GSI `by-tenant` (`tenantId`, `createdKey`) |
| apps | `tenantId`, `id` | apps; header values and signing secrets sealed with KMS |
| messages | `pk` = message id, `sk` = `m` / `p` / `a#<n>` | message, payload, attempts (one item each); a stream |
| usage | `pk` = `<tenant>#<shard>`, `day` | counters (8 shards per tenant-day), the meter's ledger (2-day TTL) |
| idempotency | `pk` = `<tenant>#<key>` | create idempotency records, 24 h TTL |
| schedules | `tenantId`, `id` | recurring schedules; sparse GSI `by-due` (`dueShard` = `d<0-7>`, `nextRunAt`) |

GSIs of `messages` (all KEYS_ONLY or nearly, so state changes rarely touch them; see docs/aws-design.md):
`by-send` (`sendShard` = `<tenant>#<0-7>`, `sendKey`) lists a tenant's messages by sendAt then id
(+ `appId` to filter), its 8 shards merged;
`by-problem` (`problemKey` = `<tenant>#failed|cancelled`, `sendKey`) lists those two statuses;
`by-wake` (`wakeShard`, `wakeAt`) is what cleanup sweeps; `by-feed` (`feedShard`, `feedKey`, ALL:
attempts never change) is the tenant's attempt feed in recording order, its 8 shards merged.
"""

from __future__ import annotations

from typing import Any

TENANTS = "tenants"
KEYS = "keys"
APPS = "apps"
MESSAGES = "messages"
USAGE = "usage"
IDEMPOTENCY = "idempotency"
SCHEDULES = "schedules"

BY_ID = "all"
KEY_PENDING = "key-pending"
BY_TENANT = "by-tenant"
BY_SEND = "by-send"
BY_PROBLEM = "by-problem"
BY_WAKE = "by-wake"
BY_FEED = "by-feed"
BY_DUE = "by-due"

TTL: dict[str, str] = {MESSAGES: "expiresAt", USAGE: "expiresAt", IDEMPOTENCY: "expiresAt"}
# The messages table's stream feeds the meter (adapters.aws.meter); old and new images: a transition
# counts by the status it left and the one it entered.
STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def _attrs(**kinds: str) -> list[dict[str, str]]:
    return [{"AttributeName": name, "AttributeType": kind} for name, kind in kinds.items()]


def _key(hash_key: str, range_key: str | None = None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _gsi(name: str, hash_key: str, range_key: str, include: tuple[str, ...] = ()) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": "KEYS_ONLY"}
    if include:
        projection = {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(include)}
    return {"IndexName": name, "KeySchema": _key(hash_key, range_key), "Projection": projection}


TABLES: list[dict[str, Any]] = [
    {
        "TableName": TENANTS,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": _key("id"),
        "AttributeDefinitions": _attrs(id="S", kind="S", keyPending="S"),
        "GlobalSecondaryIndexes": [
            _gsi(BY_ID, "kind", "id", ("name", "plan", "createdAt")),
            _gsi(KEY_PENDING, "keyPending", "id"),
        ],
    },
    {
        "TableName": KEYS,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": _key("tokenHash"),
        "AttributeDefinitions": _attrs(tokenHash="S", tenantId="S", createdKey="S"),
        "GlobalSecondaryIndexes": [
            {
                "IndexName": BY_TENANT,
                "KeySchema": _key("tenantId", "createdKey"),
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    },
    {
        "TableName": APPS,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": _key("tenantId", "id"),
        "AttributeDefinitions": _attrs(tenantId="S", id="S"),
    },
    {
        "TableName": MESSAGES,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": _key("pk", "sk"),
        "AttributeDefinitions": _attrs(
            pk="S",
            sk="S",
            sendShard="S",
            sendKey="S",
            problemKey="S",
            wakeShard="S",
            wakeAt="N",
            feedShard="S",
            feedKey="S",
        ),
        "GlobalSecondaryIndexes": [
            _gsi(BY_SEND, "sendShard", "sendKey", ("appId",)),
            _gsi(BY_PROBLEM, "problemKey", "sendKey"),
            _gsi(BY_WAKE, "wakeShard", "wakeAt"),
            {  # attempts are written once and read from the index directly
                "IndexName": BY_FEED,
                "KeySchema": _key("feedShard", "feedKey"),
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        "StreamSpecification": STREAM,
    },
    {
        "TableName": USAGE,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": _key("pk", "day"),
        "AttributeDefinitions": _attrs(pk="S", day="S"),
    },
    {
        "TableName": IDEMPOTENCY,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": _key("pk"),
        "AttributeDefinitions": _attrs(pk="S"),
    },
    {  # recurring schedules (adapters/aws/schedules.py); `by-due` holds only active ones with a next run
        "TableName": SCHEDULES,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": _key("tenantId", "id"),
        "AttributeDefinitions": _attrs(tenantId="S", id="S", dueShard="S", nextRunAt="N"),
        "GlobalSecondaryIndexes": [
            {"IndexName": BY_DUE, "KeySchema": _key("dueShard", "nextRunAt"), "Projection": {"ProjectionType": "ALL"}}
        ],
    },
]


def table_name(prefix: str, suffix: str) -> str:
    """The deployed name of a table: `<prefix>-<suffix>`."""
    return f"{prefix}-{suffix}"


def create_tables(client: Any, prefix: str) -> None:
    """Create every table of `TABLES` (and its TTL) under `prefix`: for tests, benchmarks and local stacks."""
    for spec in TABLES:
        name = table_name(prefix, spec["TableName"])
        client.create_table(**{**spec, "TableName": name})
        if spec["TableName"] in TTL:
            client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL[spec["TableName"]]}
            )

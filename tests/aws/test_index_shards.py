"""One tenant's list indexes are spread over `codec.LIST_SHARDS` partition keys (a DynamoDB partition
takes ~1,000 writes/s: keyed on the tenant alone, one busy tenant throttled its index and so the
table), and lists and the attempt feed still come back in one order with the same cursors."""

from __future__ import annotations

from collections import Counter

from chalicelib.adapters.aws import codec
from chalicelib.adapters.aws.wiring import AwsRuntime
from chalicelib.ports import MessageQuery
from chalicelib.services import messages
from tests.aws.conftest import Tenant
from tests.support.doubles import SettableClock
from tests.terraform.hcl import blocks, stack


def create(runtime: AwsRuntime, tenant: Tenant, count: int) -> list[messages.Inserted]:
    raws = [{"appId": tenant.app_id, "payload": {"n": n}, "delaySeconds": (n * 7919) % 500} for n in range(count)]
    results = messages.schedule(runtime.context, tenant.principal, raws)
    assert all(isinstance(r, messages.Inserted) for r in results)
    return results  # type: ignore[return-value]


def test_one_tenants_messages_and_attempts_spread_over_every_shard() -> None:
    tenant_id = "tenant-1"
    ids = [f"msg_{n:026d}" for n in range(800)]
    shards = Counter(codec.list_shard(tenant_id, message_id) for message_id in ids)
    assert set(shards) == set(codec.list_shards(tenant_id))
    assert max(shards.values()) < 2 * 800 / codec.LIST_SHARDS  # no shard takes a hot share


def test_terraform_keys_the_list_indexes_on_the_shards() -> None:
    table = stack().resource("aws_dynamodb_table", "messages")
    keys = {index["name"]: index["hash_key"] for index in blocks(table, "global_secondary_index")}
    assert keys["by-send"] == "sendShard" and keys["by-feed"] == "feedShard"


def test_a_list_merges_the_shards_in_send_order_across_pages(runtime: AwsRuntime, tenant: Tenant) -> None:
    made = create(runtime, tenant, 60)
    expected = sorted((r.message.send_at, r.message.id) for r in made)
    stored = [runtime.messages._get(r.message.id, "m") for r in made]
    assert len({item["sendShard"] for item in stored if item}) == codec.LIST_SHARDS
    seen: list[tuple[int, str]] = []
    cursor = None
    for _ in range(30):
        page = runtime.messages.list_messages(tenant.principal.tenant_id, MessageQuery(), cursor=cursor, limit=7)
        seen.extend((m.send_at, m.id) for m in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected


def test_a_filtered_list_keeps_order_and_bounds(runtime: AwsRuntime, tenant: Tenant) -> None:
    made = create(runtime, tenant, 40)
    times = sorted(r.message.send_at for r in made)
    low, high = times[10], times[30]
    query = MessageQuery(send_after=low, send_before=high, app_id=tenant.app_id)
    page = runtime.messages.list_messages(tenant.principal.tenant_id, query, cursor=None, limit=100)
    expected = sorted((r.message.send_at, r.message.id) for r in made if low <= r.message.send_at <= high)
    assert [(m.send_at, m.id) for m in page.items] == expected


def test_the_attempt_feed_merges_the_shards_in_recording_order(
    runtime: AwsRuntime, tenant: Tenant, clock: SettableClock
) -> None:
    made = create(runtime, tenant, 24)
    clock.advance(600_000)
    for result in made:  # delivered one by one: recorded in this order
        message = runtime.messages.get_message(tenant.principal.tenant_id, result.message.id)
        assert message is not None
        body = {"tenantId": message.tenant_id, "messageId": message.id, "gen": message.gen, "dueAt": message.due_at}
        runtime.worker.on_release(body)
        clock.advance(3)
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        page = runtime.messages.recent_attempts(tenant.principal.tenant_id, app_id=None, after=cursor, limit=5)
        seen.extend(a.message_id for a in page.items)
        cursor = page.resume_cursor
        if page.next_cursor is None:
            break
    assert seen == [r.message.id for r in made]
    latest = runtime.messages.latest_attempt_cursor(tenant.principal.tenant_id)
    assert runtime.messages.recent_attempts(tenant.principal.tenant_id, app_id=None, after=latest, limit=5).items == []
    assert latest == cursor

"""The AWS adapters beyond the conformance suite: failure mapping, arming and its recovery, cleanup,
sealed secrets, sharded metering, the quota, and the arm horizon."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib.adapters.aws import codec, tables, timing
from chalicelib.adapters.aws.dynamo import ConditionFailed, map_exceptions
from chalicelib.adapters.aws.sealing import Sealed
from chalicelib.adapters.aws.wiring import AwsRuntime
from chalicelib.api.errors import error_response
from chalicelib.domain.errors import ConcurrentUpdate, NotFound, QuotaExceeded, StorageUnavailable
from chalicelib.domain.model import Message, Status
from chalicelib.domain.schemas import AppCreate, TenantCreate
from chalicelib.ports import Lease, TimerRef
from chalicelib.services import accounts, apps, messages
from tests.aws import support
from tests.aws.conftest import Tenant
from tests.support.doubles import SettableClock


def schedule(runtime: AwsRuntime, tenant: Tenant, **fields: Any) -> Message:
    [result] = messages.schedule(
        runtime.context, tenant.principal, [{"appId": tenant.app_id, "payload": {"n": 1}, **fields}]
    )
    assert isinstance(result, messages.Inserted), result
    return result.message


def item(runtime: AwsRuntime, message_id: str, sk: str = "m") -> dict[str, Any]:
    found = runtime.messages._get(message_id, sk)
    assert found is not None
    return found


def schedules(runtime: AwsRuntime) -> list[str]:
    listed = runtime.clients.get("scheduler").list_schedules(GroupName=runtime.config.schedule_group)
    return sorted(s["Name"] for s in listed["Schedules"])


def client_error(code: str, operation: str = "PutItem") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


# ---- one translation point -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raised, expected, status",
    [
        (client_error("ProvisionedThroughputExceededException"), StorageUnavailable, 503),
        (client_error("ThrottlingException"), StorageUnavailable, 503),
        (client_error("InternalServerError"), StorageUnavailable, 503),
        (EndpointConnectionError(endpoint_url="https://dynamodb"), StorageUnavailable, 503),
        (client_error("ConditionalCheckFailedException"), ConcurrentUpdate, 409),
        (client_error("ResourceNotFoundException"), NotFound, 404),
    ],
)
def test_aws_errors_become_domain_errors_in_one_place(raised: Exception, expected: type, status: int) -> None:
    with pytest.raises(expected) as caught, map_exceptions("table"):
        raise raised
    response = error_response(caught.value)
    assert response.status_code == status
    if status == 503:
        assert response.headers["Retry-After"] == "1"


def test_a_cancelled_transaction_is_a_concurrent_update_only_when_a_condition_failed() -> None:
    cancelled = ClientError(
        {
            "Error": {"Code": "TransactionCanceledException"},
            "CancellationReasons": [{"Code": "ConditionalCheckFailed"}],
        },
        "TransactWriteItems",
    )
    with pytest.raises(ConditionFailed), map_exceptions():
        raise cancelled
    throttled = ClientError(
        {"Error": {"Code": "TransactionCanceledException"}, "CancellationReasons": [{"Code": "ThrottlingError"}]},
        "TransactWriteItems",
    )
    with pytest.raises(StorageUnavailable), map_exceptions():
        raise throttled


def test_throttled_storage_answers_503_through_the_service(
    runtime: AwsRuntime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    ddb = runtime.clients.get("dynamodb")

    def throttled(**kwargs: Any) -> None:
        raise client_error("ProvisionedThroughputExceededException", "TransactWriteItems")

    monkeypatch.setattr(ddb, "transact_write_items", throttled)
    with pytest.raises(StorageUnavailable):
        messages.schedule(
            runtime.context, tenant.principal, [{"appId": tenant.app_id, "payload": 1, "delaySeconds": 5}]
        )


# ---- arming, and what happens when it fails ----------------------------------------------------


def test_a_failed_schedule_create_leaves_the_message_for_cleanup_which_arms_it(
    runtime: AwsRuntime, tenant: Tenant, clock: SettableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduler = runtime.clients.get("scheduler")
    real_create = scheduler.create_schedule

    def failing(**kwargs: Any) -> None:
        raise client_error("InternalServerException", "CreateSchedule")

    monkeypatch.setattr(scheduler, "create_schedule", failing)
    message = schedule(runtime, tenant, delaySeconds=7200)  # the API still answers 201: the message is stored
    assert schedules(runtime) == []
    assert int(item(runtime, message.id)["wakeAt"]) == clock.now_ms()  # woken now: no orphan, no undo
    monkeypatch.setattr(scheduler, "create_schedule", real_create)
    clock.advance(60_000)
    report = runtime.cleanup.run(sweep_schedules=False)
    assert report.armed == 1
    assert schedules(runtime) == [timing.schedule_name(message.id, message.gen)]
    assert int(item(runtime, message.id)["wakeAt"]) == message.due_at + timing.ARM_GRACE_MS
    assert runtime.cleanup.run(sweep_schedules=False).armed == 0  # armed once


def test_a_message_whose_arming_never_happened_is_armed_once_overdue(
    runtime: AwsRuntime, tenant: Tenant, clock: SettableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.timer, "arm", lambda batch: None)  # the API Lambda died after the write
    message = schedule(runtime, tenant, delaySeconds=30)
    sends: list[dict[str, Any]] = []
    runtime.clients.get("sqs").meta.events.register(
        "provide-client-params.sqs.SendMessage", lambda params, **_: sends.append(params)
    )
    clock.advance(30_000 + timing.ARM_GRACE_MS - 1)
    assert runtime.cleanup.run(sweep_schedules=False).armed == 0
    clock.advance(1)
    assert runtime.cleanup.run(sweep_schedules=False).armed == 1
    assert [json.loads(s["MessageBody"])["messageId"] for s in sends] == [message.id]
    assert sends[0]["DelaySeconds"] == 0


def test_a_failed_release_send_is_also_recovered(
    runtime: AwsRuntime, tenant: Tenant, clock: SettableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = runtime.clients.get("sqs")
    real_send = sqs.send_message

    def failing(**kwargs: Any) -> None:
        raise client_error("AWS.SimpleQueueService.RequestThrottled", "SendMessage")

    monkeypatch.setattr(sqs, "send_message", failing)
    message = schedule(runtime, tenant, delaySeconds=120)
    monkeypatch.setattr(sqs, "send_message", real_send)
    assert runtime.cleanup.run(sweep_schedules=False).armed == 1
    attributes = sqs.get_queue_attributes(QueueUrl=runtime.config.release_queue_url, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    assert item(runtime, message.id)["wakeAt"] == message.due_at + timing.ARM_GRACE_MS


def test_an_expired_lease_is_taken_back_and_rearmed(runtime: AwsRuntime, tenant: Tenant, clock: SettableClock) -> None:
    message = schedule(runtime, tenant, delaySeconds=0)
    lease = runtime.deliveries.claim(
        TimerRef(tenant.principal.tenant_id, message.id, message.gen),
        now_ms=clock.now_ms(),
        lease_until=clock.now_ms() + 60_000,
    )
    assert isinstance(lease, Lease)
    clock.advance(timing.ARM_GRACE_MS)
    report = runtime.cleanup.run(sweep_schedules=False)
    assert report.leases_taken_back == 1
    back = messages.get(runtime.context, tenant.principal, message.id)
    assert back.status is Status.SCHEDULED and back.gen == lease.message.gen + 1 and back.attempts == 0


def test_cancel_and_reschedule_delete_the_old_schedule(runtime: AwsRuntime, tenant: Tenant) -> None:
    message = schedule(runtime, tenant, delaySeconds=7200)
    changed = messages.change(
        runtime.context, tenant.principal, message.id, {"sendAt": "2027-06-01T00:00:00Z"}, message.etag
    )
    assert schedules(runtime) == [timing.schedule_name(message.id, changed.gen)]
    messages.cancel(runtime.context, tenant.principal, message.id)
    assert schedules(runtime) == []


def test_the_schedule_sweep_deletes_only_schedules_nobody_needs(
    runtime: AwsRuntime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = schedule(runtime, tenant, delaySeconds=7200)
    doomed = schedule(runtime, tenant, delaySeconds=7200)
    monkeypatch.setattr(runtime.timer, "disarm", lambda batch: None)  # a DeleteSchedule that failed
    messages.cancel(runtime.context, tenant.principal, doomed.id)
    orphan = f"m-{'0' * 26}-1"  # a message that no longer exists
    runtime.timer._schedule(
        dataclasses.replace(live, id=f"msg_{'0' * 26}", gen=1), timing.plan_arm(live.due_at, live.created_at)
    )  # type: ignore[arg-type]
    assert len(schedules(runtime)) == 3
    report = runtime.cleanup.run(sweep_schedules=True)
    assert (report.schedules_seen, report.schedules_deleted) == (3, 2)
    assert schedules(runtime) == [timing.schedule_name(live.id, live.gen)]
    assert orphan not in schedules(runtime)


# ---- sealed secrets --------------------------------------------------------------------------


def test_secrets_and_header_values_are_stored_sealed_and_only_opened_for_delivery(
    runtime: AwsRuntime, tenant: Tenant
) -> None:
    ctx = runtime.context
    app = apps.create_app(
        ctx, tenant.principal, AppCreate(name="s", url="https://example.com/", headers={"x-token": "hunter2"})
    )
    raw = runtime.apps.app_item(tenant.principal.tenant_id, app.id)
    assert raw is not None
    text = json.dumps(raw)
    assert "hunter2" not in text and app.secrets[0].value not in text and "x-token" in text
    stored = apps.get_app(ctx, tenant.principal, app.id)  # what the API function sees
    assert isinstance(stored.headers["x-token"], Sealed) and isinstance(stored.secrets[0].value, Sealed)
    rotated = apps.rotate_secret(ctx, tenant.principal, app.id)  # keeps the old secret without opening it
    opened = runtime.apps.open_app(runtime.apps.app_item(tenant.principal.tenant_id, app.id) or {})
    assert opened.headers == {"x-token": "hunter2"}
    assert [s.value for s in opened.secrets] == [rotated.secrets[0].value, app.secrets[0].value]


def test_a_sealed_value_opens_only_under_its_own_tenant(runtime: AwsRuntime) -> None:
    [sealed] = runtime.sealer.seal("tenant-a", ["secret"])
    assert runtime.sealer.open("tenant-a", [sealed]) == ["secret"]
    with pytest.raises(StorageUnavailable):  # KMS refuses the other encryption context
        support.runtime(support.session(), runtime.config).sealer.open("tenant-b", [sealed])


def test_opening_twice_calls_kms_once(runtime: AwsRuntime) -> None:
    calls: list[str] = []
    runtime.clients.get("kms").meta.events.register("before-call.kms.Decrypt", lambda **_: calls.append("Decrypt"))
    sealed = runtime.sealer.seal("t", ["a", "b"])
    assert runtime.sealer.open("t", sealed) == ["a", "b"]
    assert runtime.sealer.open("t", sealed) == ["a", "b"]
    assert calls == ["Decrypt"]


# ---- metering, quota, idempotency ----------------------------------------------------------------


def test_counters_are_sharded_per_tenant_day_and_summed_on_read(runtime: AwsRuntime, tenant: Tenant) -> None:
    for _ in range(40):  # each create metered in its own stream batch: a batch adds to one shard
        schedule(runtime, tenant, delaySeconds=60)
        runtime.usage.drain()  # type: ignore[attr-defined]
    rows = runtime.clients.get("dynamodb").scan(TableName=runtime.config.table(tables.USAGE))["Items"]
    counters = [row for row in rows if row["pk"]["S"].startswith(tenant.principal.tenant_id)]
    assert len(counters) > 1 and all(row["pk"]["S"].rsplit("#", 1)[1].isdigit() for row in counters)
    [day] = [d for d in runtime.usage.usage(tenant.principal.tenant_id, "2000-01-01", "2100-01-01")]
    assert day.scheduled == 40


def test_the_daily_quota_counts_messages(runtime: AwsRuntime) -> None:
    ctx = runtime.context
    _, token = accounts.create_tenant(ctx, TenantCreate(name="small", plan="free"))
    small = accounts.authenticate(ctx, token)
    app = apps.create_app(ctx, small, AppCreate(name="a", url="https://example.com/"))
    limited = dataclasses.replace(runtime.settings.plans["free"], daily_quota=3)
    object.__setattr__(runtime.settings, "plans", {**runtime.settings.plans, "free": limited})
    batch = [{"appId": app.id, "payload": i, "delaySeconds": 60} for i in range(3)]
    assert all(isinstance(r, messages.Inserted) for r in messages.schedule(ctx, small, batch))
    with pytest.raises(QuotaExceeded):
        messages.schedule(ctx, small, batch[:1])


def test_an_idempotency_key_repeated_within_one_batch_is_stored_once(runtime: AwsRuntime, tenant: Tenant) -> None:
    raw = {"appId": tenant.app_id, "payload": 1, "delaySeconds": 60, "idempotencyKey": "k"}
    first, second = messages.schedule(runtime.context, tenant.principal, [raw, raw])
    assert isinstance(first, messages.Inserted) and isinstance(second, messages.Inserted)
    assert first.created and not second.created and first.message.id == second.message.id


def test_a_state_change_rewrites_only_the_small_message_item(runtime: AwsRuntime, tenant: Tenant) -> None:
    big = {"blob": "x" * 200_000}
    [result] = messages.schedule(
        runtime.context, tenant.principal, [{"appId": tenant.app_id, "payload": big, "delaySeconds": 60}]
    )
    assert isinstance(result, messages.Inserted)
    sizes: list[int] = []
    ddb = runtime.clients.get("dynamodb")
    ddb.meta.events.register("before-call.dynamodb.*", lambda params, **_: sizes.append(len(params["body"])))
    messages.cancel(runtime.context, tenant.principal, result.message.id)
    assert sizes and max(sizes) < 2_000  # request bodies: the 200 kB payload is never sent again


# ---- the arm horizon (stretch) -------------------------------------------------------------------


def test_with_an_arm_horizon_far_messages_are_armed_by_cleanup_as_they_come_near(
    aws: Any, config: Any, clock: SettableClock, sender: Any
) -> None:
    horizon = dataclasses.replace(config, arm_horizon_s=86_400)
    runtime = support.runtime(aws, horizon, clock=clock, send=sender)
    ctx = runtime.context
    _, token = accounts.create_tenant(ctx, TenantCreate(name="far", plan="unlimited"))
    who = accounts.authenticate(ctx, token)
    app = apps.create_app(ctx, who, AppCreate(name="a", url="https://example.com/"))
    [far] = messages.schedule(ctx, who, [{"appId": app.id, "payload": 1, "delaySeconds": 3 * 86_400}])
    [near] = messages.schedule(ctx, who, [{"appId": app.id, "payload": 1, "delaySeconds": 3_600}])
    assert isinstance(far, messages.Inserted) and isinstance(near, messages.Inserted)
    assert schedules(runtime) == [timing.schedule_name(near.message.id, 1)]
    messages.cancel(ctx, who, near.message.id)
    clock.advance(2 * 86_400_000 - 1)
    assert runtime.cleanup.run(sweep_schedules=False).armed == 0
    clock.advance(1)
    assert runtime.cleanup.run(sweep_schedules=False).armed == 1
    assert schedules(runtime) == [timing.schedule_name(far.message.id, 1)]
    assert int(item(runtime, far.message.id)["wakeAt"]) == far.message.due_at + timing.ARM_GRACE_MS


def test_codec_round_trips_a_message() -> None:
    message = Message(
        "msg_01J0000000000000000000000Z", "t", "app_1", Status.FAILED, 1, 2, 0, 8, gen=3, attempts=2, not_after=9
    )
    stored = codec.message_item(message, wake_at=None, now_ms=10, retention_s=60)
    assert codec.message_from(stored) == message
    assert stored["problemKey"] == "t#failed" and stored["expiresAt"] == 60 and "wakeShard" not in stored

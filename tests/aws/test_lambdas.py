"""The Lambdas through Chalice's test client (`lambda_.invoke`), with events shaped as AWS sends them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.adapters.aws import timing
from chalicelib.adapters.aws.wiring import AwsRuntime
from chalicelib.domain.model import Status
from chalicelib.services import messages, usage
from tests.aws import events
from tests.aws.conftest import FakeSender, Tenant
from tests.support.doubles import SettableClock


def schedule(runtime: AwsRuntime, tenant: Tenant, **fields: Any) -> messages.Inserted:
    [result] = messages.schedule(
        runtime.context, tenant.principal, [{"appId": tenant.app_id, "payload": {"n": 1}, **fields}]
    )
    assert isinstance(result, messages.Inserted), result
    return result


def captured(runtime: AwsRuntime, service: str, operation: str) -> list[dict[str, Any]]:
    """Parameters of every `operation` call the runtime's `service` client makes from now on."""
    calls: list[dict[str, Any]] = []
    client = runtime.clients.get(service)
    client.meta.events.register(
        f"provide-client-params.{service}.{operation}", lambda params, **_: calls.append(params)
    )
    return calls


def release_body(message: Any) -> str:
    return json.dumps(
        {"tenantId": message.tenant_id, "messageId": message.id, "gen": message.gen, "dueAt": message.due_at}
    )


def test_a_scheduler_event_requeues_with_the_whole_seconds_left(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, clock: SettableClock
) -> None:
    message = schedule(runtime, tenant, delaySeconds=3600).message
    [listed] = runtime.clients.get("scheduler").list_schedules(GroupName=runtime.config.schedule_group)["Schedules"]
    found = runtime.clients.get("scheduler").get_schedule(Name=listed["Name"], GroupName=runtime.config.schedule_group)
    assert found["Name"] == timing.schedule_name(message.id, message.gen)
    assert found["FlexibleTimeWindow"] == {"Mode": "OFF"} and found["ActionAfterCompletion"] == "DELETE"
    assert found["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 10
    assert found["Target"]["DeadLetterConfig"]["Arn"] == runtime.config.schedule_dlq_arn
    fire_at = timing.fire_at_ms(found["ScheduleExpression"])
    clock.set(fire_at + 42_123)  # EventBridge fires anywhere in the minute
    sends = captured(runtime, "sqs", "SendMessage")
    result = lambdas.lambda_.invoke("deliver", events.scheduler_input(found["Target"]["Input"]))
    assert result.payload == {"result": "requeued"}
    [sent] = sends
    assert sent["DelaySeconds"] == (message.due_at - clock.now_ms()) // 1000
    assert json.loads(sent["MessageBody"]) == json.loads(found["Target"]["Input"])


def test_an_sqs_batch_delivers_each_record_and_reports_only_the_poison_one(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, clock: SettableClock, sender: FakeSender
) -> None:
    made = [schedule(runtime, tenant, delaySeconds=0).message for _ in range(3)]
    poison = ["not json", json.dumps({"tenantId": tenant.principal.tenant_id, "gen": 1})]
    batch = events.sqs_event([release_body(m) for m in made] + poison)
    result = lambdas.lambda_.invoke("deliver", batch)
    failed = {item["itemIdentifier"] for item in result.payload["batchItemFailures"]}
    assert failed == {record["messageId"] for record in batch["Records"][3:]}
    assert sorted(r.message_id for r in sender.sent) == sorted(m.id for m in made)
    for message in made:
        assert messages.get(runtime.context, tenant.principal, message.id).status is Status.DELIVERED


def test_a_redelivered_batch_claims_nothing_and_meters_once(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, sender: FakeSender
) -> None:
    message = schedule(runtime, tenant, delaySeconds=0).message
    batch = events.sqs_event([release_body(message)])
    assert lambdas.lambda_.invoke("deliver", batch).payload == {"batchItemFailures": []}
    assert lambdas.lambda_.invoke("deliver", batch).payload == {"batchItemFailures": []}  # SQS redelivery
    assert len(sender.sent) == 1
    [day] = [d for d in usage.usage(runtime.context, tenant.principal, first=None, last=None).days if d.scheduled]
    assert (day.scheduled, day.delivered, day.failed, day.attempts) == (1, 1, 0, 1)


def test_an_early_release_message_waits_out_the_sub_second_then_delivers_on_time(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, clock: SettableClock, sender: FakeSender
) -> None:
    message = schedule(runtime, tenant, delaySeconds=1.7).message
    clock.advance(1_000)  # DelaySeconds=1 elapsed: 700 ms early
    lambdas.lambda_.invoke("deliver", events.sqs_event([release_body(message)]))
    delivered = messages.get(runtime.context, tenant.principal, message.id)
    assert delivered.status is Status.DELIVERED and delivered.late_ms == 0


def test_a_failed_attempt_is_rearmed_through_the_release_queue(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, sender: FakeSender
) -> None:
    sender.status = 503
    message = schedule(runtime, tenant, delaySeconds=0).message
    sends = captured(runtime, "sqs", "SendMessage")
    lambdas.lambda_.invoke("deliver", events.sqs_event([release_body(message)]))
    again = messages.get(runtime.context, tenant.principal, message.id)
    assert again.status is Status.SCHEDULED and again.attempts == 1
    [sent] = sends
    assert json.loads(sent["MessageBody"])["gen"] == again.gen
    assert 3 <= sent["DelaySeconds"] <= 6  # the first backoff: 5 s +- 20 %


def test_a_message_of_a_deleted_app_ends_failed_without_an_attempt(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, sender: FakeSender
) -> None:
    message = schedule(runtime, tenant, delaySeconds=0).message
    runtime.apps.delete_app(tenant.principal.tenant_id, tenant.app_id)  # raw delete: the message stays scheduled
    lambdas.lambda_.invoke("deliver", events.sqs_event([release_body(message)]))
    ended = messages.get(runtime.context, tenant.principal, message.id)
    assert (ended.status, ended.failure_reason) == (Status.FAILED, "app_deleted") and sender.sent == []


def test_the_delivery_carries_the_apps_headers_and_secret_in_clear(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, sender: FakeSender
) -> None:
    message = schedule(runtime, tenant, delaySeconds=0).message
    lambdas.lambda_.invoke("deliver", events.sqs_event([release_body(message)]))
    [request] = sender.sent
    assert dict(request.headers) == {"x-env": "test"}
    assert request.secrets[0].startswith("whsec_") and request.body == b'{"n":1}'


def test_cleanup_runs_as_a_scheduled_lambda(lambdas: Client, runtime: AwsRuntime) -> None:
    result = lambdas.lambda_.invoke("cleanup", events.scheduled_event("2027-01-15T08:05:00Z"))
    assert result.payload["armed"] == 0 and result.payload["errors"] == []


def test_post_confirmation_creates_the_tenant_and_its_usage_key_once(lambdas: Client, runtime: AwsRuntime) -> None:
    sub = "3f1c6a2e-9b7d-4e55-a1f0-6c2d8e4b9a10"
    event = events.post_confirmation(sub)
    assert lambdas.lambda_.invoke("post_confirmation", event).payload == event
    assert lambdas.lambda_.invoke("post_confirmation", event).payload == event  # Cognito retried
    record = runtime.tenants.record(sub)
    assert record is not None and record["plan"] == "free" and record["name"] == "ada@example.com"
    gateway = runtime.clients.get("apigateway")
    keys = gateway.get_api_keys(nameQuery=f"{runtime.config.table_prefix}-{sub}", includeValues=True)["items"]
    assert [k["value"] for k in keys] == [record["usageKey"]]
    plan_keys = gateway.get_usage_plan_keys(usagePlanId=runtime.config.usage_plan_ids["free"])["items"]
    assert [k["id"] for k in plan_keys] == [record["usageKeyId"]]


def test_post_confirmation_ignores_other_triggers(lambdas: Client, runtime: AwsRuntime) -> None:
    event = events.post_confirmation("someone", trigger="PostConfirmation_ConfirmForgotPassword")
    assert lambdas.lambda_.invoke("post_confirmation", event).payload == event
    assert runtime.tenants.record("someone") is None


@pytest.mark.parametrize("status", [200, 410])
def test_metrics_follow_the_outcome(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, sender: FakeSender, status: int
) -> None:
    sender.status = status
    message = schedule(runtime, tenant, delaySeconds=0).message
    lambdas.lambda_.invoke("deliver", events.sqs_event([release_body(message)]))
    recorded = runtime.metric.points  # type: ignore[attr-defined]
    assert recorded["MessagesScheduled"] == [1] and recorded["DeliveryAttempts"] == [1]
    assert ("DeliverySucceeded" in recorded) == (status == 200) and ("DeliveryFailed" in recorded) == (status == 410)
    assert recorded["DeliveryLatenessMs"] == [0]


def test_a_batch_whose_every_record_fails_is_reported_record_by_record(lambdas: Client) -> None:
    batch = events.sqs_event(["{}", "[]"])
    result = lambdas.lambda_.invoke("deliver", batch)
    assert {i["itemIdentifier"] for i in result.payload["batchItemFailures"]} == {
        r["messageId"] for r in batch["Records"]
    }

"""Recurring schedules on AWS (moto): the EventBridge Scheduler schedule each one keeps, the deliver
Lambda's run events (native firings, SQS re-queues, chained runs), at-least-once firings, missedRuns
after a late firing, the rollback when arming fails, and cleanup's repair of a schedule that never fired."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.adapters.aws.schedule_timer import chained_name, native_name
from chalicelib.adapters.aws.wiring import AwsRuntime
from chalicelib.domain.errors import StorageUnavailable
from chalicelib.domain.model import Status
from chalicelib.domain.recurrence import run_key
from chalicelib.domain.times import format_ms, parse_instant
from chalicelib.ports import MessageQuery
from chalicelib.services import messages, schedules
from tests.aws import events
from tests.aws.conftest import Tenant
from tests.aws.faults import Faults, aws_error
from tests.support.doubles import SettableClock

MINUTE = 60_000


def at(text: str) -> int:
    return parse_instant(text, field="t")


def create(runtime: AwsRuntime, tenant: Tenant, **fields: Any) -> Any:
    body = {"appId": tenant.app_id, "payload": {"job": "report"}, **fields}
    return schedules.create(runtime.context, tenant.principal, body)


def eventbridge(runtime: AwsRuntime, name: str) -> dict[str, Any] | None:
    client = runtime.clients.get("scheduler")
    try:
        return dict(client.get_schedule(Name=name, GroupName=runtime.config.schedule_group))
    except client.exceptions.ResourceNotFoundException:
        return None


def captured(runtime: AwsRuntime, service: str, operation: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    runtime.clients.get(service).meta.events.register(
        f"provide-client-params.{service}.{operation}", lambda params, **_: calls.append(params)
    )
    return calls


def runs_of(runtime: AwsRuntime, tenant: Tenant, schedule_id: str) -> list[Any]:
    query = MessageQuery(schedule_id=schedule_id)
    return messages.list_messages(runtime.context, tenant.principal, query, cursor=None, limit=500).items


def fire(lambdas: Client, found: dict[str, Any], scheduled_ms: int) -> Any:
    """The deliver Lambda invoked as EventBridge Scheduler invokes it for one firing."""
    event = events.scheduler_fire(found["Target"]["Input"], format_ms(scheduled_ms).replace(".000", ""))
    return lambdas.lambda_.invoke("deliver", event).payload


def test_a_native_cron_is_one_eventbridge_schedule_in_the_schedules_zone(
    runtime: AwsRuntime, tenant: Tenant, clock: SettableClock
) -> None:
    clock.set(at("2026-12-04T08:00:00Z"))
    made = create(runtime, tenant, cron="0 9 * * MON-FRI", timezone="Europe/Berlin", endAt="2027-06-01T00:00:00Z")
    found = eventbridge(runtime, native_name(made.id))
    assert found is not None
    assert (found["ScheduleExpression"], found["ScheduleExpressionTimezone"]) == (
        "cron(59 8 ? * 2-6 *)",
        "Europe/Berlin",
    )
    assert found["State"] == "ENABLED" and found["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert found["Target"]["Arn"] == runtime.config.delivery_function_arn
    assert found["EndDate"].isoformat().startswith("2027-06-01T00:00:00")
    body = json.loads(found["Target"]["Input"])
    assert body == {
        "kind": "run",
        "tenantId": tenant.principal.tenant_id,
        "scheduleId": made.id,
        "scheduledTime": "<aws.scheduler.scheduled-time>",
        "aheadMs": MINUTE,
    }


def test_pause_resume_patch_and_delete_follow_on_eventbridge(
    runtime: AwsRuntime, tenant: Tenant, clock: SettableClock
) -> None:
    clock.set(at("2026-12-04T08:00:00Z"))
    made = create(runtime, tenant, every="15m")
    name = native_name(made.id)
    assert eventbridge(runtime, name)["ScheduleExpression"] == "rate(15 minutes)"  # type: ignore[index]
    schedules.pause(runtime.context, tenant.principal, made.id)
    assert eventbridge(runtime, name) is None
    resumed = schedules.resume(runtime.context, tenant.principal, made.id)
    assert eventbridge(runtime, name) is not None
    changed = schedules.update(runtime.context, tenant.principal, made.id, {"every": "2h"}, resumed.etag)
    assert eventbridge(runtime, name)["ScheduleExpression"] == "rate(2 hours)"  # type: ignore[index]
    switched = schedules.update(runtime.context, tenant.principal, made.id, {"every": "90s"}, changed.etag)
    assert eventbridge(runtime, name) is None  # 90 s is not whole minutes: chained
    assert switched.next_run_at is not None
    schedules.delete(runtime.context, tenant.principal, made.id)
    assert eventbridge(runtime, name) is None


def test_a_chained_schedule_arms_only_its_next_run(runtime: AwsRuntime, tenant: Tenant, clock: SettableClock) -> None:
    clock.set(at("2027-03-26T12:00:00Z"))
    made = create(runtime, tenant, cron="30 2 * * *", timezone="Europe/Berlin")  # runs in the March gap
    assert eventbridge(runtime, native_name(made.id)) is None
    found = eventbridge(runtime, chained_name(made.id, made.next_run_at))
    assert found is not None and found["ActionAfterCompletion"] == "DELETE"
    assert found["ScheduleExpression"] == "at(2027-03-27T01:28:00)"  # 02:30 CET less lead, on the minute
    assert json.loads(found["Target"]["Input"])["runAt"] == at("2027-03-27T01:30:00Z")


def test_a_firing_twice_creates_one_run_armed_to_the_second(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, clock: SettableClock
) -> None:
    clock.set(at("2026-12-04T08:00:00Z"))
    made = create(runtime, tenant, cron="0 10 * * *")
    found = eventbridge(runtime, native_name(made.id))
    assert found is not None
    run_at = at("2026-12-04T10:00:00Z")
    clock.set(run_at - 7_000)  # EventBridge fired 53 s after 09:59
    sends = captured(runtime, "sqs", "SendMessage")
    assert fire(lambdas, found, run_at - MINUTE) == {"result": "created"}
    assert fire(lambdas, found, run_at - MINUTE) == {"result": "exists"}  # at-least-once: a second delivery
    [run] = runs_of(runtime, tenant, made.id)
    assert (run.send_at, run.status, run.idempotency_key) == (run_at, Status.SCHEDULED, run_key(made.id, run_at))
    [release] = sends  # the run's message is armed once, with the seconds left
    assert release["DelaySeconds"] == 7 and json.loads(release["MessageBody"])["messageId"] == run.id


def test_an_early_firing_is_requeued_and_creates_its_run_from_the_queue(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, clock: SettableClock
) -> None:
    clock.set(at("2026-12-04T08:00:00Z"))
    made = create(runtime, tenant, cron="0 10 * * *")
    found = eventbridge(runtime, native_name(made.id))
    run_at = at("2026-12-04T10:00:00Z")
    clock.set(run_at - 58_500)  # EventBridge fired 1.5 s into 09:59
    sends = captured(runtime, "sqs", "SendMessage")
    assert fire(lambdas, found, run_at - MINUTE) == {"result": "requeued"}  # type: ignore[arg-type]
    [requeued] = sends
    assert requeued["DelaySeconds"] == 53  # 5 s before the run, rounded down
    assert runs_of(runtime, tenant, made.id) == []
    clock.set(run_at - 5_000)
    batch = events.sqs_event([requeued["MessageBody"]])
    assert lambdas.lambda_.invoke("deliver", batch).payload == {"batchItemFailures": []}
    assert [run.send_at for run in runs_of(runtime, tenant, made.id)] == [run_at]


@pytest.mark.parametrize(("missed", "expected"), [("skip", 0), ("once", 1), ("all", 3)])
def test_a_late_firing_applies_missed_runs(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, clock: SettableClock, missed: str, expected: int
) -> None:
    clock.set(at("2026-12-04T09:30:00Z"))
    made = create(runtime, tenant, cron="0 * * * *", missedRuns=missed)
    found = eventbridge(runtime, native_name(made.id))
    clock.set(at("2026-12-04T12:30:00Z"))  # the Lambda was down: EventBridge's retry of 10:00 comes now
    assert fire(lambdas, found, at("2026-12-04T09:59:00Z")) == {"result": "caught-up"}  # type: ignore[arg-type]
    runs = runs_of(runtime, tenant, made.id)
    assert len(runs) == expected and all(run.send_at == clock.now_ms() for run in runs)
    after = schedules.get(runtime.context, tenant.principal, made.id)
    assert (after.next_run_at, after.skipped_count) == (at("2026-12-04T13:00:00Z"), 3 - expected)
    # the other retried firings of the downtime create nothing more
    fire(lambdas, found, at("2026-12-04T10:59:00Z"))  # type: ignore[arg-type]
    assert len(runs_of(runtime, tenant, made.id)) == expected


def test_a_firing_armed_before_a_change_creates_nothing(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, clock: SettableClock
) -> None:
    clock.set(at("2026-12-04T08:00:00Z"))
    made = create(runtime, tenant, cron="0 10 * * *")
    old = eventbridge(runtime, native_name(made.id))
    schedules.update(runtime.context, tenant.principal, made.id, {"cron": "30 10 * * *"}, made.etag)
    clock.set(at("2026-12-04T09:59:30Z"))
    assert fire(lambdas, old, at("2026-12-04T09:59:00Z")) == {"result": "stale"}  # type: ignore[arg-type]
    assert runs_of(runtime, tenant, made.id) == []


def test_a_deleted_schedules_firing_deletes_its_eventbridge_schedule(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, clock: SettableClock, faults: Faults
) -> None:
    clock.set(at("2026-12-04T08:00:00Z"))
    made = create(runtime, tenant, cron="0 10 * * *")
    found = eventbridge(runtime, native_name(made.id))
    faults.fail("scheduler", "DeleteSchedule", aws_error("InternalServerException"), times=2)
    schedules.delete(runtime.context, tenant.principal, made.id)  # acknowledged: the schedule is gone
    assert eventbridge(runtime, native_name(made.id)) is not None  # its EventBridge schedule stayed
    clock.set(at("2026-12-04T09:59:50Z"))
    assert fire(lambdas, found, at("2026-12-04T09:59:00Z")) == {"result": "gone"}  # type: ignore[arg-type]
    assert eventbridge(runtime, native_name(made.id)) is None
    assert runs_of(runtime, tenant, made.id) == []


def test_a_create_that_cannot_be_armed_is_not_created(runtime: AwsRuntime, tenant: Tenant, faults: Faults) -> None:
    faults.fail("scheduler", "CreateSchedule", aws_error("ThrottlingException"))
    with pytest.raises(StorageUnavailable):
        create(runtime, tenant, cron="0 10 * * *")
    assert schedules.count(runtime.context, tenant.principal) == 0
    assert runtime.clients.get("scheduler").list_schedules(GroupName=runtime.config.schedule_group)["Schedules"] == []


def test_a_change_that_cannot_be_armed_is_undone(runtime: AwsRuntime, tenant: Tenant, faults: Faults) -> None:
    made = create(runtime, tenant, cron="0 10 * * *")
    faults.fail("scheduler", "UpdateSchedule", aws_error("InternalServerException"))
    with pytest.raises(StorageUnavailable):
        schedules.update(runtime.context, tenant.principal, made.id, {"cron": "0 11 * * *"}, made.etag)
    stored = schedules.get(runtime.context, tenant.principal, made.id)
    assert (stored.cron, stored.etag) == ("0 10 * * *", made.etag)  # the caller's etag is still good
    assert eventbridge(runtime, native_name(made.id))["ScheduleExpression"] == "cron(59 9 * * ? *)"  # type: ignore[index]
    faults.fail("scheduler", "DeleteSchedule", aws_error("InternalServerException"))
    with pytest.raises(StorageUnavailable):
        schedules.pause(runtime.context, tenant.principal, made.id)
    assert schedules.get(runtime.context, tenant.principal, made.id).state.value == "active"


def test_cleanup_repairs_a_schedule_whose_timer_never_fired(
    runtime: AwsRuntime, tenant: Tenant, clock: SettableClock
) -> None:
    clock.set(at("2026-12-04T09:30:00Z"))
    made = create(runtime, tenant, cron="0 * * * *", missedRuns="once")
    runtime.clients.get("scheduler").delete_schedule(Name=native_name(made.id), GroupName=runtime.config.schedule_group)
    clock.set(at("2026-12-04T10:01:00Z"))
    assert runtime.cleanup.run(sweep_schedules=False).runs_repaired == 0  # not overdue yet: it may still fire
    clock.set(at("2026-12-04T10:03:00Z"))
    report = runtime.cleanup.run(sweep_schedules=False)
    assert report.runs_repaired == 1 and not report.errors
    assert [run.idempotency_key for run in runs_of(runtime, tenant, made.id)] == [
        run_key(made.id, at("2026-12-04T10:00:00Z"))
    ]
    assert eventbridge(runtime, native_name(made.id)) is not None  # armed again
    assert schedules.get(runtime.context, tenant.principal, made.id).next_run_at == at("2026-12-04T11:00:00Z")


def test_a_chained_run_arms_the_next_one_even_when_the_first_try_died_arming_it(
    lambdas: Client, runtime: AwsRuntime, tenant: Tenant, clock: SettableClock, faults: Faults
) -> None:
    clock.set(at("2026-12-04T10:00:00Z"))
    made = create(runtime, tenant, every="90s")  # chained: not whole minutes
    sends = captured(runtime, "sqs", "SendMessage")
    run_at = made.next_run_at
    clock.set(run_at - 4_000)
    body = {"kind": "run", "tenantId": tenant.principal.tenant_id, "scheduleId": made.id, "runAt": run_at}
    batch = events.sqs_event([json.dumps({**body, "chain": True})])
    faults.fail("sqs", "SendMessage", aws_error("InternalError"), skip=1)  # the run is armed, its next is not
    assert lambdas.lambda_.invoke("deliver", batch).payload["batchItemFailures"]
    assert len(runs_of(runtime, tenant, made.id)) == 1
    again = events.sqs_event([json.dumps({**body, "chain": True})])
    again["Records"][0]["attributes"]["ApproximateReceiveCount"] = "2"  # SQS redelivers the failed record
    assert lambdas.lambda_.invoke("deliver", again).payload == {"batchItemFailures": []}
    duplicate = events.sqs_event([json.dumps({**body, "chain": True})])  # an at-least-once duplicate
    assert lambdas.lambda_.invoke("deliver", duplicate).payload == {"batchItemFailures": []}
    assert len(runs_of(runtime, tenant, made.id)) == 1
    chained = [json.loads(s["MessageBody"]) for s in sends if json.loads(s["MessageBody"]).get("kind") == "run"]
    assert [c["runAt"] for c in chained] == [run_at + 90_000] * 2  # the failed try, then the redelivery only

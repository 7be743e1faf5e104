"""Cleanup is paginated, parallel and bounded by time: a backlog far over one page (the old run took
800 a minute, one at a time) is armed in one run, each message once; a run that runs out of time
stops between pages and the next run carries on; failures leave messages for the next run."""

from __future__ import annotations

import dataclasses
import itertools

from chalicelib.adapters.aws import timing
from chalicelib.adapters.aws.cleanup import Cleanup
from chalicelib.adapters.aws.wiring import AwsRuntime
from chalicelib.services import messages
from tests.aws import faults as fault
from tests.aws.conftest import Tenant
from tests.aws.faults import Faults
from tests.support.doubles import SettableClock


def unarmed(runtime: AwsRuntime, tenant: Tenant, faults: Faults, count: int, delay_s: int = 300) -> list[str]:
    """`count` messages whose arming failed (the release queue was throttled): woken now."""
    faults.fail("sqs", "SendMessageBatch", fault.throttled("AWS.SimpleQueueService.RequestThrottled"), times=10**6)
    faults.fail("sqs", "SendMessage", fault.throttled("AWS.SimpleQueueService.RequestThrottled"), times=10**6)
    ids: list[str] = []
    for start in range(0, count, 100):
        raws = [
            {"appId": tenant.app_id, "payload": {"n": n}, "delaySeconds": delay_s}
            for n in range(start, min(count, start + 100))
        ]
        ids.extend(r.message.id for r in messages.schedule(runtime.context, tenant.principal, raws))
    faults.clear()
    return ids


def released(runtime: AwsRuntime) -> int:
    sqs = runtime.clients.get("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=runtime.config.release_queue_url, AttributeNames=["All"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"])


def cleanup(runtime: AwsRuntime, **options: object) -> Cleanup:
    return dataclasses.replace(runtime.cleanup, **options)  # type: ignore[arg-type]


def test_a_backlog_of_many_pages_is_armed_in_one_run_each_message_once(
    runtime: AwsRuntime, tenant: Tenant, faults: Faults, clock: SettableClock
) -> None:
    ids = unarmed(runtime, tenant, faults, 200)
    clock.advance(1_000)
    before = faults.calls["SendMessageBatch"]
    report = cleanup(runtime, page_size=4, workers=8).run(sweep_schedules=False)
    assert (report.armed, report.arm_failed, report.more, report.errors) == (200, 0, False, [])
    assert released(runtime) == 200  # once each
    assert faults.calls["SendMessageBatch"] - before <= 200 // 10 + 16 * 3  # in tens, a few partial groups
    assert cleanup(runtime, page_size=25).run(sweep_schedules=False).armed == 0  # nothing left to arm
    item = runtime.messages._get(ids[-1], "m")
    assert item is not None and int(item["wakeAt"]) > clock.now_ms()


def test_a_run_out_of_time_stops_between_pages_and_the_next_run_goes_on(
    runtime: AwsRuntime, tenant: Tenant, faults: Faults, clock: SettableClock
) -> None:
    unarmed(runtime, tenant, faults, 120)
    ticks = itertools.count()
    slow = cleanup(runtime, page_size=2, workers=4, budget_s=20.0, monotonic=lambda: float(next(ticks)))
    first = slow.run(sweep_schedules=False)
    assert first.more and 0 < first.armed < 120
    total, runs = first.armed, 1
    while total < 120 and runs < 40:
        total += slow.run(sweep_schedules=False).armed
        runs += 1
    assert total == 120 and released(runtime) == 120


def test_arming_that_fails_during_cleanup_is_retried_by_the_next_run(
    runtime: AwsRuntime, tenant: Tenant, faults: Faults, clock: SettableClock
) -> None:
    unarmed(runtime, tenant, faults, 40)
    faults.fail("sqs", "SendMessageBatch", fault.throttled("AWS.SimpleQueueService.RequestThrottled"), times=2)
    first = cleanup(runtime, workers=1).run(sweep_schedules=False)
    assert first.arm_failed > 0 and first.armed + first.arm_failed == 40
    second = cleanup(runtime, workers=1).run(sweep_schedules=False)
    assert (second.armed, second.arm_failed) == (first.arm_failed, 0)
    assert released(runtime) == 40


def test_the_schedule_sweep_covers_many_pages_in_one_run(runtime: AwsRuntime, tenant: Tenant, faults: Faults) -> None:
    """Stale schedules (their message is gone) over more than the old 10-page cap."""
    scheduler = runtime.clients.get("scheduler")
    for n in range(1_050):
        name = timing.schedule_name(f"msg_{n:026d}", 1)
        scheduler.create_schedule(
            Name=name,
            GroupName=runtime.config.schedule_group,
            ScheduleExpression="at(2030-01-01T00:00:00)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": runtime.config.delivery_function_arn, "RoleArn": runtime.config.scheduler_role_arn},
        )
    before = faults.calls["ListSchedules"]
    report = cleanup(runtime, workers=8).run(sweep_schedules=True)
    assert faults.calls["ListSchedules"] - before >= 11  # pages of 100
    assert (report.schedules_seen, report.schedules_deleted) == (1_050, 1_050)
    left = scheduler.list_schedules(GroupName=runtime.config.schedule_group)["Schedules"]
    assert left == []

"""The delivery Lambda's work for a run event of a recurring schedule (EventBridge Scheduler or SQS).

1. The run's time: the event's `runAt`, or (native) `<aws.scheduler.scheduled-time>` plus `aheadMs`.
2. The schedule is gone: delete its native schedule (it stops costing invocations). A time that is not
   a run of the stored schedule (a firing armed before a change) creates nothing.
3. More than `LOOKAHEAD_MS` early: back to the release queue with the whole seconds left (less 5 s).
4. On time: `schedule_runs.fire` creates the run's message once per (schedule, run time), whatever
   EventBridge's retries or a duplicate SQS delivery repeat, and arms it (SQS delay to the second).
   Later than `MISSED_AFTER_MS` (the Lambda or EventBridge was down): `catch_up` applies the
   schedule's `missedRuns`, as the local dispatcher does after downtime.
5. Chained: the invocation that created the run arms the next one, and so does a retry (SQS
   `ApproximateReceiveCount` > 1, EventBridge `<aws.scheduler.attempt-number>` > 1) that finds the run
   created already: the first try may have died between creating the run and arming the next.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.aws.schedule_timer import RUN_KIND, RUN_LEAD_MS, AwsScheduleTimer
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.recurrence import next_run
from chalicelib.domain.times import parse_instant
from chalicelib.services import schedule_runs
from chalicelib.services.context import Context


class BadRunEvent(InvalidInput):
    """A run event that is not what the timer sends (never retried)."""


@dataclass(frozen=True, slots=True)
class RunEvent:
    """A parsed run event."""

    tenant_id: str
    schedule_id: str
    run_at: int
    native: bool
    chain: bool
    retry: bool = False


def is_run_event(data: Any) -> bool:
    """Whether a Lambda event (or SQS body) is a recurring schedule's run event."""
    return isinstance(data, dict) and data.get("kind") == RUN_KIND


def parse_run_event(data: Any) -> RunEvent:
    """The run event's fields, or `BadRunEvent`."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise BadRunEvent("a run event must be JSON") from exc
    if not is_run_event(data):
        raise BadRunEvent("not a run event")
    try:
        tenant_id, schedule_id = str(data["tenantId"]), str(data["scheduleId"])
        retry = str(data.get("attempt", "1")).isdigit() and int(str(data.get("attempt", "1"))) > 1
        if "runAt" in data:
            chain = bool(data.get("chain"))
            return RunEvent(tenant_id, schedule_id, int(data["runAt"]), native=False, chain=chain, retry=retry)
        scheduled = parse_instant(str(data["scheduledTime"]), field="scheduledTime")
        return RunEvent(tenant_id, schedule_id, scheduled + int(data.get("aheadMs", 0)), native=True, chain=False)
    except (KeyError, TypeError, ValueError, InvalidInput) as exc:
        raise BadRunEvent(f"a run event needs tenantId, scheduleId and runAt or scheduledTime: {exc}") from exc


class RecurringRuns:
    """Creates runs from run events on the AWS context."""

    def __init__(self, ctx: Context, timer: AwsScheduleTimer) -> None:
        self._ctx = ctx
        self._timer = timer

    def on_event(self, data: Any, *, redelivered: bool = False) -> str:
        """Handle one run event (`redelivered`: SQS delivered it before); returns what happened."""
        event = parse_run_event(data)
        ctx = self._ctx
        store = schedule_runs.store_of(ctx)
        schedule = store.get_schedule(event.tenant_id, event.schedule_id)
        if schedule is None:
            if event.native:
                self._timer.delete_native(event.schedule_id)
            return "gone"
        if next_run(schedule, event.run_at - 1) != event.run_at:
            return "stale"
        now = ctx.clock.now_ms()
        if event.run_at - now > schedule_runs.LOOKAHEAD_MS:
            self._timer.send_run(self._explicit(data, event), (event.run_at - RUN_LEAD_MS - now) // 1000)
            return "requeued"
        if now - event.run_at > schedule_runs.MISSED_AFTER_MS:
            schedule_runs.catch_up(ctx, event.tenant_id, event.schedule_id, now)
            created = True
            outcome = "caught-up"
        else:
            inserted = schedule_runs.fire(ctx, event.tenant_id, event.schedule_id, event.run_at)
            created = inserted is None or inserted.created
            outcome = "skipped" if inserted is None else "created" if inserted.created else "exists"
        if event.chain and (created or redelivered or event.retry):
            after = store.get_schedule(event.tenant_id, event.schedule_id)
            if after is not None:
                self._timer.arm_next(after)
        return outcome

    @staticmethod
    def _explicit(data: Any, event: RunEvent) -> str:
        """The event with its run time explicit (a re-queued native firing keeps its run)."""
        body = json.loads(data) if isinstance(data, str) else dict(data)
        body.pop("scheduledTime", None)
        body.pop("aheadMs", None)
        body.pop("attempt", None)
        body.update(runAt=event.run_at, chain=event.chain)
        return json.dumps(body, separators=(",", ":"))

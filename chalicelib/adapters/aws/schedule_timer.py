"""The `ScheduleTimer` port on AWS: one EventBridge Scheduler schedule per recurring schedule.

Native (see `recurrence`): a recurring `cron(...)`/`rate(...)` schedule `r-<ULID>` that fires a fixed
lead before each run, with `Input` naming the schedule, the lead and `<aws.scheduler.scheduled-time>`.
Chained: the next run only, by an SQS delay on the release queue (within 14 minutes) or a one-time
`at()` schedule `r-<ULID>-<run s>` (ActionAfterCompletion DELETE); the delivery Lambda arms the next
after each run. A run within a minute of a (re)arm is also sent through the release queue ("kick"),
as EventBridge might not fire a recurring schedule that close to its creation.

Every event reaches `RecurringRuns` (schedule_runs.py) as a run event; a firing that no longer
matches the stored schedule creates nothing. A failed Scheduler or SQS call raises
`StorageUnavailable`, and the service rolls the API change back (so the API never acknowledges a
schedule that is not armed); a deleted schedule's native schedule that could not be deleted deletes
itself when it next fires.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import recurrence, timing
from chalicelib.adapters.aws.config import AwsConfig
from chalicelib.adapters.aws.dynamo import error_code
from chalicelib.adapters.aws.timer import RETRY_POLICY, one_time_schedule
from chalicelib.domain.errors import StorageUnavailable
from chalicelib.domain.recurrence import Schedule, ScheduleState
from chalicelib.ports import Clock

log = logging.getLogger(__name__)

RUN_KIND = "run"
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"  # EventBridge Scheduler's context attributes
ATTEMPT = "<aws.scheduler.attempt-number>"
KICK_WITHIN_MS = 60_000  # a first firing sooner than this after arming is sent through SQS as well
RUN_LEAD_MS = 5_000  # an SQS-armed run event arrives this long before the run
_SCHEDULE_ID = re.compile(r"sch_([0-9A-HJKMNP-TV-Z]{26})")


def native_name(schedule_id: str) -> str:
    """`r-<ULID>`: the native schedule of a recurring schedule."""
    return timing.validate_name(f"r-{_ulid(schedule_id)}")


def chained_name(schedule_id: str, run_at_ms: int) -> str:
    """`r-<ULID>-<run s>`: the one-time schedule of one chained run."""
    return timing.validate_name(f"r-{_ulid(schedule_id)}-{run_at_ms // 1000}")


def _ulid(schedule_id: str) -> str:
    match = _SCHEDULE_ID.fullmatch(schedule_id)
    if match is None:
        raise timing.InvalidScheduleSpec(f"cannot name a schedule for {schedule_id!r}")
    return match.group(1)


def run_event(
    schedule: Schedule, *, run_at: int | None = None, ahead_ms: int = 0, chain: bool = False, attempt: bool = False
) -> str:
    """The JSON a run event carries: an explicit `runAt`, or (native) the scheduled time plus `aheadMs`;
    `attempt` adds EventBridge's attempt number (a one-time schedule's input)."""
    body: dict[str, Any] = {"kind": RUN_KIND, "tenantId": schedule.tenant_id, "scheduleId": schedule.id}
    if run_at is None:
        body.update(scheduledTime=SCHEDULED_TIME, aheadMs=ahead_ms)
    else:
        body.update(runAt=run_at, chain=chain)
    if attempt:
        body["attempt"] = ATTEMPT
    return json.dumps(body, separators=(",", ":"))


def _iso(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class AwsScheduleTimer:
    """Arms recurring schedules; `scheduler`/`sqs` are boto3 clients."""

    def __init__(self, *, scheduler: Any, sqs: Any, config: AwsConfig, clock: Clock) -> None:
        self._scheduler = scheduler
        self._sqs = sqs
        self._config = config
        self._clock = clock

    # ---- the port ------------------------------------------------------------------------------

    def schedule_changed(self, schedule: Schedule) -> None:
        """Arm a created or changed schedule (raises `StorageUnavailable` when it could not)."""
        name = native_name(schedule.id)
        if schedule.state is ScheduleState.PAUSED or schedule.next_run_at is None:
            self._delete(name, strict=True)
            return
        now = self._clock.now_ms()
        plan = recurrence.plan(schedule.recurrence, schedule.next_run_at, now)
        if isinstance(plan, recurrence.NotNative):
            self._delete(name, strict=True)
            self.arm_next(schedule)
            return
        self._upsert_native(schedule, plan, now)

    def schedule_deleted(self, schedule: Schedule) -> None:
        """Delete its schedules (best effort: a firing of a deleted schedule deletes its own)."""
        self._delete(native_name(schedule.id), strict=False)
        if schedule.next_run_at is not None:
            self._delete(chained_name(schedule.id, schedule.next_run_at), strict=False)

    # ---- chained ---------------------------------------------------------------------------------

    def arm_next(self, schedule: Schedule) -> None:
        """Arm the schedule's `next_run_at` alone (chained): SQS delay when near, else a one-time schedule."""
        if schedule.state is ScheduleState.PAUSED or schedule.next_run_at is None:
            return
        run_at = schedule.next_run_at
        plan = timing.plan_arm(run_at - RUN_LEAD_MS, self._clock.now_ms(), lead_s=self._config.lead_s)
        if isinstance(plan, timing.ReleaseAfter):
            self.send_run(run_event(schedule, run_at=run_at, chain=True), plan.delay_s)
            return
        body = run_event(schedule, run_at=run_at, chain=True, attempt=True)
        name = chained_name(schedule.id, run_at)
        request = one_time_schedule(name, self._config.schedule_group, plan, self._target(body))
        self._call("create_schedule", name, conflict_ok=True, **request)

    def send_run(self, body: str, delay_s: int) -> None:
        """Send a run event through the release queue (raises `StorageUnavailable` on failure)."""
        try:
            self._sqs.send_message(
                QueueUrl=self._config.require("release_queue_url"),
                MessageBody=body,
                DelaySeconds=max(0, min(timing.SQS_MAX_DELAY_S, delay_s)),
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable("the release queue is unavailable; try again", retry_after_s=1) from exc

    def delete_native(self, schedule_id: str) -> None:
        """Delete the native schedule of a schedule that is gone (best effort)."""
        self._delete(native_name(schedule_id), strict=False)

    # ---- native ----------------------------------------------------------------------------------

    def _upsert_native(self, schedule: Schedule, plan: recurrence.Native, now: int) -> None:
        assert schedule.next_run_at is not None
        start = plan.start_ms
        every = schedule.every_ms
        if every is not None and start is not None:
            kicked = schedule.next_run_at
            while start < now + KICK_WITHIN_MS:  # firings this close are kicked through SQS instead
                self._kick(schedule, kicked, now)
                start += every
                kicked += every
        elif schedule.next_run_at - plan.ahead_ms < now + KICK_WITHIN_MS:
            self._kick(schedule, schedule.next_run_at, now)
        if start is None and schedule.start_at is not None and schedule.start_at - plan.ahead_ms > now:
            start = schedule.start_at - plan.ahead_ms - 60_000
        params: dict[str, Any] = {
            "Name": native_name(schedule.id),
            "GroupName": self._config.schedule_group,
            "ScheduleExpression": plan.expression,
            "ScheduleExpressionTimezone": plan.timezone,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": self._target(run_event(schedule, ahead_ms=plan.ahead_ms)),
        }
        if start is not None:
            params["StartDate"] = _iso(start)
        if schedule.end_at is not None:
            params["EndDate"] = _iso(schedule.end_at)
        try:
            self._scheduler.update_schedule(**params)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise StorageUnavailable(f"EventBridge Scheduler: {error_code(exc)}", retry_after_s=1) from exc
            self._call("create_schedule", params["Name"], conflict_ok=False, **params)
        except BotoCoreError as exc:
            raise StorageUnavailable("EventBridge Scheduler is unreachable", retry_after_s=1) from exc

    def _kick(self, schedule: Schedule, run_at: int, now: int) -> None:
        if run_at > now:
            self.send_run(run_event(schedule, run_at=run_at), timing.release_delay_s(run_at - RUN_LEAD_MS, now))

    # ---- calls -----------------------------------------------------------------------------------

    def _target(self, body: str) -> dict[str, Any]:
        target: dict[str, Any] = {
            "Arn": self._config.require("delivery_function_arn"),
            "RoleArn": self._config.require("scheduler_role_arn"),
            "Input": body,
            "RetryPolicy": RETRY_POLICY,
        }
        if self._config.schedule_dlq_arn:
            target["DeadLetterConfig"] = {"Arn": self._config.schedule_dlq_arn}
        return target

    def _call(self, operation: str, name: str, *, conflict_ok: bool, **params: Any) -> None:
        try:
            getattr(self._scheduler, operation)(**params)
        except ClientError as exc:
            if conflict_ok and error_code(exc) == "ConflictException":
                return  # armed already (a retried call, or the same run armed twice)
            raise StorageUnavailable(
                f"EventBridge Scheduler {operation} {name}: {error_code(exc)}", retry_after_s=1
            ) from exc
        except BotoCoreError as exc:
            raise StorageUnavailable("EventBridge Scheduler is unreachable", retry_after_s=1) from exc

    def _delete(self, name: str, *, strict: bool) -> None:
        try:
            self._scheduler.delete_schedule(Name=name, GroupName=self._config.schedule_group)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return
            if strict:
                raise StorageUnavailable(
                    f"EventBridge Scheduler delete {name}: {error_code(exc)}", retry_after_s=1
                ) from exc
            log.warning("could not delete schedule %s: %s", name, error_code(exc))
        except BotoCoreError as exc:
            if strict:
                raise StorageUnavailable("EventBridge Scheduler is unreachable", retry_after_s=1) from exc
            log.warning("could not delete schedule %s", name, exc_info=True)

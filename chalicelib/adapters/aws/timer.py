"""The `Timer` port on AWS: the SQS release queue for the last 14 minutes, EventBridge Scheduler before.

A message is stored first (with a wake index entry: the time by which it must have been claimed)
and armed after. If arming fails, its wake time is set to now so the next cleanup run (every
minute) arms it; if the process dies in between, cleanup re-arms it once the wake time passes.
Timers carry `{tenantId, messageId, gen, dueAt}`: a stale one claims nothing, and `dueAt` lets the
delivery Lambda re-queue or wait without reading the message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import timing
from chalicelib.adapters.aws.config import AwsConfig
from chalicelib.adapters.aws.dynamo import error_code, map_exceptions
from chalicelib.adapters.aws.messages import DynamoMessageStore
from chalicelib.domain.model import Message, Status
from chalicelib.ports import Clock

log = logging.getLogger(__name__)

RETRY_POLICY = {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 900}


def timer_body(tenant_id: str, message_id: str, gen: int, due_at: int) -> str:
    """The JSON a timer carries to the delivery Lambda."""
    return json.dumps(
        {"tenantId": tenant_id, "messageId": message_id, "gen": gen, "dueAt": due_at}, separators=(",", ":")
    )


def timer_input(message: Message) -> str:
    """The timer JSON of one generation of a message."""
    return timer_body(message.tenant_id, message.id, message.gen, message.due_at)


def one_time_schedule(name: str, group: str, plan: timing.ScheduleAt, target: dict[str, Any]) -> dict[str, Any]:
    """`CreateSchedule`'s arguments for one `at()` firing, deleted after it (idempotent by name)."""
    return {
        "Name": name,
        "GroupName": group,
        "ScheduleExpression": plan.expression,
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "State": "ENABLED",
        "Target": target,
        "ClientToken": name,
    }


class AwsTimer:
    """Arms messages with an SQS delay or a one-time schedule; `sqs`/`scheduler` are boto3 clients."""

    def __init__(
        self, *, sqs: Any, scheduler: Any, messages: DynamoMessageStore, config: AwsConfig, clock: Clock
    ) -> None:
        self._sqs = sqs
        self._scheduler = scheduler
        self._messages = messages
        self._config = config
        self._clock = clock

    def arm(self, messages: Sequence[Message]) -> None:
        """Arm each scheduled message (within the arm horizon); a failure leaves it to cleanup."""
        self.arm_reporting(messages)

    def arm_reporting(self, messages: Sequence[Message]) -> list[Message]:
        """`arm`, returning the messages that could not be armed (their wake time is now)."""
        now = self._clock.now_ms()
        releases: list[tuple[Message, int]] = []
        failed: list[Message] = []
        for message in messages:
            if message.status is not Status.SCHEDULED:
                continue
            if not timing.arm_now(message.due_at, now, arm_horizon_ms=self._config.arm_horizon_ms):
                continue  # cleanup arms it when its wake time (dueAt - horizon) comes
            plan = timing.plan_arm(message.due_at, now, lead_s=self._config.lead_s)
            if isinstance(plan, timing.ReleaseAfter):
                releases.append((message, plan.delay_s))
            elif not self._schedule(message, plan):
                failed.append(message)
        failed.extend(self._release_all(releases))
        for message in failed:
            self._leave_to_cleanup(message, now)
        return failed

    def disarm(self, messages: Sequence[Message]) -> None:
        """Delete the schedules of these generations where one may still be waiting (best effort: a
        stale schedule that fires claims nothing, and deletes itself after)."""
        now = self._clock.now_ms()
        for message in messages:
            if self._may_have_schedule(message, now):
                self.delete_schedule(timing.schedule_name(message.id, message.gen))

    def app_deleted(self, tenant_id: str, app_id: str) -> None:
        """Nothing to stop here: attempts run in delivery Lambdas, which find the app gone and end the message."""

    # ---- release queue ---------------------------------------------------------------------

    def release(self, message: Message, delay_s: int) -> None:
        """Send one release message (raises a domain error on failure; the caller decides)."""
        self.release_event(message.tenant_id, message.id, message.gen, message.due_at, delay_s)

    def release_event(self, tenant_id: str, message_id: str, gen: int, due_at: int, delay_s: int) -> None:
        """Send (or re-queue) the release message of one generation of a message."""
        with map_exceptions("release queue"):
            self._sqs.send_message(
                QueueUrl=self._config.require("release_queue_url"),
                MessageBody=timer_body(tenant_id, message_id, gen, due_at),
                DelaySeconds=delay_s,
            )

    def _release_all(self, releases: list[tuple[Message, int]]) -> list[Message]:
        """Send release messages (one call for one, batches of 10 for more); returns those that failed."""
        if len(releases) == 1:
            try:
                self.release(*releases[0])
            except Exception:
                log.warning("could not release %s; cleanup will", releases[0][0].id, exc_info=True)
                return [releases[0][0]]
            return []
        failed: list[Message] = []
        for start in range(0, len(releases), 10):
            failed.extend(self._release_batch(releases[start : start + 10]))
        return failed

    def _release_batch(self, batch: list[tuple[Message, int]]) -> list[Message]:
        entries = [
            {"Id": str(n), "MessageBody": timer_input(message), "DelaySeconds": delay}
            for n, (message, delay) in enumerate(batch)
        ]
        try:
            response = self._sqs.send_message_batch(QueueUrl=self._config.require("release_queue_url"), Entries=entries)
        except (ClientError, BotoCoreError):
            log.warning("could not release %d messages; cleanup will", len(batch), exc_info=True)
            return [message for message, _ in batch]
        return [batch[int(entry["Id"])][0] for entry in response.get("Failed", [])]

    # ---- schedules -------------------------------------------------------------------------

    def _schedule(self, message: Message, plan: timing.ScheduleAt) -> bool:
        """Create the message's schedule; True when it exists afterwards."""
        name = timing.schedule_name(message.id, message.gen)
        target = {
            "Arn": self._config.require("delivery_function_arn"),
            "RoleArn": self._config.require("scheduler_role_arn"),
            "Input": timer_input(message),
            "RetryPolicy": RETRY_POLICY,
        }
        if self._config.schedule_dlq_arn:
            target["DeadLetterConfig"] = {"Arn": self._config.schedule_dlq_arn}
        try:
            self._scheduler.create_schedule(**one_time_schedule(name, self._config.schedule_group, plan, target))
        except ClientError as exc:
            if error_code(exc) == "ConflictException":
                return True  # this generation is armed already (a retried call)
            log.warning("could not create schedule %s: %s; cleanup will arm it", name, error_code(exc))
            return False
        except BotoCoreError:
            log.warning("could not create schedule %s; cleanup will arm it", name, exc_info=True)
            return False
        return True

    def delete_schedule(self, name: str) -> bool:
        """Delete a schedule of the deployment's group; True if it was there."""
        try:
            self._scheduler.delete_schedule(Name=name, GroupName=self._config.schedule_group)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                log.warning("could not delete schedule %s: %s", name, error_code(exc))
            return False
        except BotoCoreError:
            log.warning("could not delete schedule %s", name, exc_info=True)
            return False
        return True

    def _may_have_schedule(self, message: Message, now: int) -> bool:
        """False when no schedule of this generation can be waiting: a first generation armed through the
        release queue, a schedule that fired already (and deleted itself), or a message beyond the arm
        horizon (not armed yet)."""
        if message.gen == 1 and timing.due_soon(message.due_at, message.created_at):
            return False
        fired_by = message.due_at - self._config.lead_s * 1000 + 60_000
        if fired_by < now:
            return False
        horizon = self._config.arm_horizon_ms
        return horizon is None or message.due_at - now <= horizon + 120_000

    def _leave_to_cleanup(self, message: Message, now: int) -> None:
        """Arming failed: wake the message now, so the next cleanup run arms it."""
        try:
            self._messages.set_wake(message, now)
        except Exception:  # the wake time still passes at dueAt + grace: cleanup re-arms it then
            log.warning("could not mark %s for cleanup", message.id, exc_info=True)

"""The cleanup Lambda's work, bounded per run (it runs every minute).

Every run sweeps the wake index (`by-wake`, 16 shards, entries whose time has passed):
- `scheduled`: arm it. That is a message whose arming failed (its wake time was set to now), one
  that lost its timer (still unclaimed `ARM_GRACE_MS` after its due time), or, with an arm horizon,
  one that is now within it. Its wake time then moves to `max(dueAt, now) + ARM_GRACE_MS`.
- `delivering` with an expired lease (a delivery Lambda died mid-attempt): back to `scheduled` at
  the next generation, and armed (due now: the release queue, no delay).
Every fifth run also sweeps the schedule group, resuming where the last sweep stopped: a schedule
whose message is gone, finished or at another generation is deleted (it would only fire for nothing).

Finished messages, payloads, attempts and idempotency records are purged by DynamoDB TTL
(`expiresAt`), so there is no purge step here: TTL deletes cost no write capacity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.aws import timing
from chalicelib.adapters.aws.config import AwsConfig
from chalicelib.adapters.aws.deliveryqueue import DynamoDeliveryQueue
from chalicelib.adapters.aws.dynamo import map_exceptions
from chalicelib.adapters.aws.messages import DynamoMessageStore
from chalicelib.adapters.aws.timer import AwsTimer
from chalicelib.domain.model import FINISHED, Message, Status
from chalicelib.ports import Clock

log = logging.getLogger(__name__)

SWEEP = "schedule-sweep"


@dataclass
class Report:
    """What one cleanup run did."""

    armed: int = 0
    arm_failed: int = 0
    leases_taken_back: int = 0
    schedules_seen: int = 0
    schedules_deleted: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """For the log line and the Lambda's return value."""
        return {
            "armed": self.armed,
            "armFailed": self.arm_failed,
            "leasesTakenBack": self.leases_taken_back,
            "schedulesSeen": self.schedules_seen,
            "schedulesDeleted": self.schedules_deleted,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class Cleanup:
    """One deployment's cleanup; `scheduler` is a boto3 EventBridge Scheduler client."""

    messages: DynamoMessageStore
    queue: DynamoDeliveryQueue
    timer: AwsTimer
    scheduler: Any
    config: AwsConfig
    clock: Clock
    wake_budget: int = 800
    schedule_pages: int = 10

    def run(self, *, sweep_schedules: bool) -> Report:
        """One run: the wake index always, the schedule group when asked."""
        report = Report()
        self._wake(report)
        if sweep_schedules:
            try:
                self._sweep_schedules(report)
            except Exception as exc:  # the next sweep resumes from the stored position
                log.exception("schedule sweep failed")
                report.errors.append(f"schedule sweep: {type(exc).__name__}")
        return report

    # ---- wake index ------------------------------------------------------------------------

    def _wake(self, report: Report) -> None:
        now = self.clock.now_ms()
        for waking in self.messages.waking(now, limit=self.wake_budget):
            message = waking.message
            try:
                if message.status is Status.SCHEDULED:
                    self._arm(message, now, report)
                elif message.status is Status.DELIVERING and (waking.lease_until or 0) <= now:
                    self._take_back(message, report)
            except Exception as exc:  # one message's trouble must not stop the sweep
                log.exception("cleanup of %s failed", message.id)
                report.errors.append(f"{message.id}: {type(exc).__name__}")

    def _arm(self, message: Message, now: int, report: Report) -> None:
        if self.timer.arm_reporting([message]):
            report.arm_failed += 1
            return
        report.armed += 1
        self.messages.set_wake(message, max(message.due_at, now) + timing.ARM_GRACE_MS)

    def _take_back(self, message: Message, report: Report) -> None:
        """A lease expired: the attempt may or may not have happened (delivery is at least once)."""
        again = self.queue.take_back(message)
        if again is None:
            return  # its delivery finished meanwhile
        report.leases_taken_back += 1
        self.timer.arm([again])

    # ---- schedule group --------------------------------------------------------------------

    def _sweep_schedules(self, report: Report) -> None:
        token = self.messages.control(SWEEP).get("nextToken")
        for _ in range(self.schedule_pages):
            request: dict[str, Any] = {"GroupName": self.config.schedule_group, "NamePrefix": "m-", "MaxResults": 100}
            if token:
                request["NextToken"] = token
            try:
                with map_exceptions("schedules"):
                    response = self.scheduler.list_schedules(**request)
            except Exception:
                token = None  # an expired token: start over next time
                raise
            self._prune([entry["Name"] for entry in response.get("Schedules", [])], report)
            token = response.get("NextToken")
            if not token:
                break
        self.messages.set_control(SWEEP, nextToken=token, at=self.clock.now_ms())

    def _prune(self, names: list[str], report: Report) -> None:
        report.schedules_seen += len(names)
        parsed = {name: timing.parse_schedule_name(name) for name in names}
        items = self.messages.messages_by_id([p[0] for p in parsed.values() if p], consistent=True)
        for name, found in parsed.items():
            if found is None:
                continue
            item = items.get(found[0])
            live = item is not None and Status(item["status"]) not in FINISHED and int(item["gen"]) == found[1]
            if not live and self.timer.delete_schedule(name):
                report.schedules_deleted += 1


def is_sweep_minute(event_time: str | None) -> bool:
    """Whether a scheduled event's time (`2026-01-01T10:05:00Z`) falls on a fifth minute."""
    if not event_time or len(event_time) < 16:
        return True
    try:
        return int(event_time[14:16]) % 5 == 0
    except ValueError:
        return True

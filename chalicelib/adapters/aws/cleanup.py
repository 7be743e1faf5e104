"""The cleanup Lambda's work: bounded by time, parallel, paginated (it runs every minute).

Every run sweeps the wake index (`by-wake`, 16 shards, entries whose time has passed), each shard
page by page in its own thread, the messages of each page armed by a pool of workers:
- `scheduled`: arm it. That is a message whose arming failed (its wake time was set to now), one
  that lost its timer (still unclaimed `ARM_GRACE_MS` after its due time), or, with an arm horizon,
  one that is now within it. Its wake time then moves to `max(dueAt, now) + ARM_GRACE_MS`.
- `delivering` with an expired lease (a delivery Lambda died mid-attempt): back to `scheduled` at
  the next generation, and armed (due now: the release queue, no delay).
Every fifth run also sweeps the schedule group, resuming where the last sweep stopped: a schedule
whose message is gone, finished or at another generation is deleted (it would only fire for nothing).
Schedules delete themselves after firing (`ActionAfterCompletion=DELETE`) and cancel/reschedule delete
theirs inline, so the sweep only collects what an inline delete missed.

A run stops starting new pages at `budget_s` (of the function's 60 s); what is left stays in the index
for the next run (`Report.more`). Throughput is `workers` concurrent arms, each 2 calls (CreateSchedule
or a tenth of a SendMessageBatch, then UpdateItem): docs/aws-capacity.md has the figures.

Every run also makes the usage keys of sign-ups API Gateway throttled (`Provisioner.provision_pending`,
at most 4 a second: CreateApiKey's account-wide 5/s).

Every run also repairs recurring schedules whose next run is `REPAIR_OVERDUE_MS` past (their native or
chained timer did not fire, or a process died between storing a change and arming it):
`services.schedule_runs.repair` creates their runs by `missedRuns` and arms them again.

Finished messages, payloads, attempts and idempotency records are purged by DynamoDB TTL
(`expiresAt`), so there is no purge step here: TTL deletes cost no write capacity.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.aws import codec, timing
from chalicelib.adapters.aws.config import AwsConfig
from chalicelib.adapters.aws.deliveryqueue import DynamoDeliveryQueue
from chalicelib.adapters.aws.dynamo import Item, map_exceptions
from chalicelib.adapters.aws.messages import DynamoMessageStore
from chalicelib.adapters.aws.provisioning import KEYS_PER_S, Provisioner
from chalicelib.adapters.aws.queries import Waking
from chalicelib.adapters.aws.timer import AwsTimer
from chalicelib.domain.model import FINISHED, Message, Status
from chalicelib.ports import Clock

log = logging.getLogger(__name__)

SWEEP = "schedule-sweep"
ARM_GROUP = 10  # messages per arming task: one SendMessageBatch when they are due soon


@dataclass
class Report:
    """What one cleanup run did."""

    armed: int = 0
    arm_failed: int = 0
    leases_taken_back: int = 0
    examined: int = 0
    schedules_seen: int = 0
    schedules_deleted: int = 0
    keys_made: int = 0
    keys_failed: int = 0
    runs_repaired: int = 0
    more: bool = False
    errors: list[str] = field(default_factory=list)

    def add(self, other: Report) -> None:
        """Fold a worker's counts into this report."""
        self.armed += other.armed
        self.arm_failed += other.arm_failed
        self.leases_taken_back += other.leases_taken_back
        self.schedules_deleted += other.schedules_deleted
        self.errors.extend(other.errors)

    def as_dict(self) -> dict[str, Any]:
        """For the log line and the Lambda's return value."""
        return {
            "armed": self.armed,
            "armFailed": self.arm_failed,
            "leasesTakenBack": self.leases_taken_back,
            "examined": self.examined,
            "schedulesSeen": self.schedules_seen,
            "schedulesDeleted": self.schedules_deleted,
            "keysMade": self.keys_made,
            "keysFailed": self.keys_failed,
            "runsRepaired": self.runs_repaired,
            "more": self.more,
            "errors": self.errors[:20],
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
    monotonic: Callable[[], float] = time.monotonic
    budget_s: float = 40.0
    workers: int = 32
    page_size: int = 500
    provisioner: Provisioner | None = None
    sleep: Callable[[float], None] = time.sleep
    keys_s: float = 10.0
    repair_schedules: Callable[[int], int] | None = None  # now -> runs created (see the module)

    def run(self, *, sweep_schedules: bool) -> Report:
        """One run: the wake index always, the schedule group when asked; both within the budget."""
        deadline = self.monotonic() + self.budget_s
        report = Report()
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="cleanup") as pool:
            self._wake(report, pool, deadline - self.keys_s)  # the last `keys_s` are for usage keys
            self._provision(report, deadline)
            self._repair(report)
            if sweep_schedules:
                try:
                    self._sweep_schedules(report, pool, deadline)
                except Exception as exc:  # the next sweep resumes from the stored position
                    log.exception("schedule sweep failed")
                    report.errors.append(f"schedule sweep: {type(exc).__name__}")
        return report

    def _repair(self, report: Report) -> None:
        if self.repair_schedules is None:
            return
        try:
            report.runs_repaired = self.repair_schedules(self.clock.now_ms())
        except Exception as exc:  # the next run tries again
            log.exception("repairing recurring schedules failed")
            report.errors.append(f"recurring schedules: {type(exc).__name__}")

    # ---- sign-ups whose usage key API Gateway throttled ---------------------------------------

    def _provision(self, report: Report, deadline: float) -> None:
        limit = int(max(0.0, deadline - self.monotonic()) * KEYS_PER_S)
        if self.provisioner is None or limit == 0:
            return
        try:
            report.keys_made, report.keys_failed = self.provisioner.provision_pending(limit=limit, sleep=self.sleep)
        except Exception as exc:  # the next run tries again
            log.exception("making pending usage keys failed")
            report.errors.append(f"usage keys: {type(exc).__name__}")

    # ---- wake index ------------------------------------------------------------------------

    def _wake(self, report: Report, pool: ThreadPoolExecutor, deadline: float) -> None:
        now = self.clock.now_ms()
        with ThreadPoolExecutor(max_workers=codec.WAKE_SHARDS, thread_name_prefix="cleanup-shard") as shards:
            swept = [shards.submit(self._wake_shard, shard, now, pool, deadline) for shard in range(codec.WAKE_SHARDS)]
            for future in swept:
                try:
                    examined, more, work = future.result()
                except Exception as exc:  # one shard's trouble must not stop the others
                    log.exception("wake shard failed")
                    report.errors.append(f"wake shard: {type(exc).__name__}")
                    continue
                report.examined += examined
                report.more |= more
                for done in work:
                    report.add(done.result())

    def _wake_shard(
        self, shard: int, now: int, pool: ThreadPoolExecutor, deadline: float
    ) -> tuple[int, bool, list[Future[Report]]]:
        """Page through one shard until it has no due entries or the budget is spent."""
        start: Item | None = None
        examined = 0
        work: list[Future[Report]] = []
        while True:
            page, start = self.messages.waking_page(shard, now, limit=self.page_size, start=start)
            examined += len(page)
            work.extend(pool.submit(self._handle, group, now) for group in _groups(page, ARM_GROUP))
            if start is None:
                return examined, False, work
            if self.monotonic() >= deadline:
                return examined, True, work

    def _handle(self, group: list[Waking], now: int) -> Report:
        """Arm the scheduled messages of a group together, take back expired leases one by one."""
        report = Report()
        due = [w.message for w in group if w.message.status is Status.SCHEDULED]
        try:
            if due:
                self._arm(due, now, report)
        except Exception as exc:
            log.exception("arming %d messages failed", len(due))
            report.errors.append(f"arm: {type(exc).__name__}")
        for waking in group:
            message = waking.message
            if message.status is Status.DELIVERING and (waking.lease_until or 0) <= now:
                try:
                    self._take_back(message, now, report)
                except Exception as exc:  # one message's trouble must not stop the sweep
                    log.exception("cleanup of %s failed", message.id)
                    report.errors.append(f"{message.id}: {type(exc).__name__}")
        return report

    def _arm(self, due: list[Message], now: int, report: Report) -> None:
        failed = {m.id for m in self.timer.arm_reporting(due)}
        report.arm_failed += len(failed)
        for message in due:
            if message.id in failed:
                continue
            report.armed += 1
            self.messages.set_wake(message, max(message.due_at, now) + timing.ARM_GRACE_MS)

    def _take_back(self, message: Message, now: int, report: Report) -> None:
        """A lease expired: the attempt may or may not have happened (delivery is at least once). The
        write holds only if the message is still delivering under that expired lease: the wake index
        and the read behind it are eventually consistent, and a result that landed meanwhile keeps
        its generation, so a condition on `gen` alone would undo a finished delivery and send it again."""
        again = self.queue.take_back(message, now_ms=now)
        if again is None:
            return  # its delivery finished meanwhile
        report.leases_taken_back += 1
        self.timer.arm([again])

    # ---- schedule group --------------------------------------------------------------------

    def _sweep_schedules(self, report: Report, pool: ThreadPoolExecutor, deadline: float) -> None:
        token = self.messages.control(SWEEP).get("nextToken")
        pruning: list[Future[Report]] = []
        try:
            while True:
                request: dict[str, Any] = {
                    "GroupName": self.config.schedule_group,
                    "NamePrefix": "m-",
                    "MaxResults": 100,
                }
                if token:
                    request["NextToken"] = token
                try:
                    with map_exceptions("schedules"):
                        response = self.scheduler.list_schedules(**request)
                except Exception:
                    token = None  # an expired token: start over next time
                    raise
                names = [entry["Name"] for entry in response.get("Schedules", [])]
                report.schedules_seen += len(names)
                pruning.append(pool.submit(self._prune, names))
                token = response.get("NextToken")
                if not token or self.monotonic() >= deadline:
                    break
        finally:
            for future in pruning:
                report.add(future.result())
            self.messages.set_control(SWEEP, nextToken=token, at=self.clock.now_ms())

    def _prune(self, names: list[str]) -> Report:
        report = Report()
        parsed = {name: timing.parse_schedule_name(name) for name in names}
        items = self.messages.messages_by_id([p[0] for p in parsed.values() if p], consistent=True)
        for name, found in parsed.items():
            if found is None:
                continue
            item = items.get(found[0])
            live = item is not None and Status(item["status"]) not in FINISHED and int(item["gen"]) == found[1]
            if not live and self.timer.delete_schedule(name):
                report.schedules_deleted += 1
        return report


def _groups(items: list[Waking], size: int) -> Iterable[list[Waking]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def is_sweep_minute(event_time: str | None) -> bool:
    """Whether a scheduled event's time (`2026-01-01T10:05:00Z`) falls on a fifth minute."""
    if not event_time or len(event_time) < 16:
        return True
    try:
        return int(event_time[14:16]) % 5 == 0
    except ValueError:
        return True

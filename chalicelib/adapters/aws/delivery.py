"""The delivery Lambda's driver of the delivery runner: Scheduler events re-queue; release (SQS) messages
are waited for, then the runner claims, delivers and records them; a message waiting for a retry is
re-armed, and every attempt is metered.

Per record on the happy path (`deliveryqueue`): one conditional `UpdateItem` (claim), one
`BatchGetItem` (app and payload), at most one KMS `Decrypt` (none once the app's data key is cached),
one `TransactWriteItems` (message, attempt, counters), and the tenant's slot around the claim (`slots`:
one `Query`, two `UpdateItem`s). A Scheduler event costs one `SendMessage`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.aws import timing
from chalicelib.adapters.aws.messages import DynamoMessageStore
from chalicelib.adapters.aws.slots import TenantSlots
from chalicelib.adapters.aws.timer import AwsTimer
from chalicelib.domain.delivery import AttemptOutcome, DeliveryRequest
from chalicelib.domain.model import Message, Status
from chalicelib.ports import Clock, Lease, Refused, TimerRef
from chalicelib.services.runner import DeliveryRunner

log = logging.getLogger(__name__)

Metric = Callable[[str, float], None]
AT_CAP_DELAY_S = 2  # a message of a tenant at its cap is re-queued 2-4 s later


class PoisonRecord(ValueError):
    """A timer event that is not `{tenantId, messageId, gen[, dueAt]}`: it can never succeed."""


@dataclass(frozen=True, slots=True)
class TimerEvent:
    """What a schedule or release message carries."""

    tenant_id: str
    message_id: str
    gen: int
    due_at: int | None = None


def parse_timer_event(data: Any) -> TimerEvent:
    """A `TimerEvent` from a decoded Scheduler input or SQS body, else `PoisonRecord`."""
    if not isinstance(data, Mapping):
        raise PoisonRecord("a timer event must be a JSON object")
    tenant, message, gen, due = data.get("tenantId"), data.get("messageId"), data.get("gen"), data.get("dueAt")
    if not isinstance(tenant, str) or not tenant or not isinstance(message, str) or not message.startswith("msg_"):
        raise PoisonRecord("a timer event needs tenantId and messageId")
    if isinstance(gen, bool) or not isinstance(gen, int) or gen < 1:
        raise PoisonRecord("a timer event needs a positive integer gen")
    if due is not None and (isinstance(due, bool) or not isinstance(due, int)):
        raise PoisonRecord("dueAt must be Unix milliseconds")
    return TimerEvent(tenant, message, gen, due)


@dataclass(frozen=True)
class DeliveryWorker:
    """Handles timer events for one delivery Lambda container."""

    runner: DeliveryRunner
    messages: DynamoMessageStore
    timer: AwsTimer
    send: Callable[[DeliveryRequest], AttemptOutcome]
    clock: Clock
    sleep: Callable[[float], None]
    metric: Metric
    owner: str = "lambda"  # this container's name on its tenant slots
    slots: TenantSlots | None = None  # the per-tenant cap on attempts in flight (None: no cap)

    def on_schedule(self, data: Any) -> str:
        """A Scheduler event (fired 31-150 s early by design): re-queue with the whole seconds left."""
        event = parse_timer_event(data)
        due = event.due_at if event.due_at is not None else self._due_of(event)
        if due is None:
            return "stale"
        self.timer.release_event(event.tenant_id, event.message_id, event.gen, due, self._delay(due))
        return "requeued"

    def on_release(self, data: Any) -> str:
        """A release message: wait out the last sub-second, claim, deliver, record; returns what happened."""
        event = parse_timer_event(data)
        due = event.due_at if event.due_at is not None else self._due_of(event)
        if due is None:
            return "stale"
        wait = timing.wait_ms(due, self.clock.now_ms())
        if wait is None:
            self.timer.release_event(event.tenant_id, event.message_id, event.gen, due, self._delay(due))
            return "requeued"
        if wait:
            self.sleep(wait / 1000)
        now = self.clock.now_ms()
        slot = None
        holder = f"{self.owner}:{event.message_id}"
        if self.slots is not None:
            lease_until = now + self.runner.lease_ms
            slot = self.slots.take(event.tenant_id, holder, now_ms=now, lease_until=lease_until)
            if slot is None:  # the tenant has its cap in flight: free this invocation, try again shortly
                delay = AT_CAP_DELAY_S + round(self.runner.jitter() * AT_CAP_DELAY_S)
                self.timer.release_event(event.tenant_id, event.message_id, event.gen, due, delay)
                self.metric("DeliveryDeferredAtTenantCap", 1)
                return "deferred"
        try:
            return self._claim_and_deliver(event)
        finally:
            if slot is not None and self.slots is not None:
                self.slots.give_back(event.tenant_id, slot, holder)

    def _claim_and_deliver(self, event: TimerEvent) -> str:
        claimed = self.runner.claim(TimerRef(event.tenant_id, event.message_id, event.gen))
        if isinstance(claimed, Refused):
            return self._not_claimed(event, claimed.current, self.clock.now_ms())
        return self.deliver(claimed)

    def deliver(self, lease: Lease) -> str:
        """One attempt of a claimed message, recorded with its counters; re-armed when it waits for a retry.
        A missing payload raises `MissingPayload`: never sent without its content, the lease expires and
        cleanup retries."""
        done = self.runner.deliver(lease, self.send)
        if done.stale:
            log.warning("result of %s was stale and dropped", lease.message.id)
            return "stale"
        after = done.completion.message
        if done.outcome is None:
            self.metric("DeliveryFailed", 1)
            return after.status.value
        self._count(lease.message, after, done.outcome)
        if after.status is Status.SCHEDULED:
            self.timer.arm([after])
        return after.status.value

    def _count(self, claimed: Message, after: Message, outcome: AttemptOutcome) -> None:
        self.metric("DeliveryAttempts", 1)
        if after.status is Status.DELIVERED:
            self.metric("DeliverySucceeded", 1)
        elif after.status is Status.FAILED:
            self.metric("DeliveryFailed", 1)
        if claimed.first_attempt_at is None:
            self.metric("DeliveryLatenessMs", max(0, outcome.started_at_ms - claimed.send_at))

    def _not_claimed(self, event: TimerEvent, old: Message | None, now: int) -> str:
        """Nothing claimed: a stale or duplicate timer, or (rarely) still early by our clock."""
        if old is not None and old.status is Status.SCHEDULED and old.gen == event.gen and old.due_at > now:
            self.timer.release_event(event.tenant_id, event.message_id, event.gen, old.due_at, self._delay(old.due_at))
            return "requeued"
        return "stale"

    def _delay(self, due: int) -> int:
        return timing.release_delay_s(due, self.clock.now_ms())

    def _due_of(self, event: TimerEvent) -> int | None:
        message = self.messages.get_message(event.tenant_id, event.message_id)
        if message is None or message.status is not Status.SCHEDULED or message.gen != event.gen:
            return None
        return message.due_at

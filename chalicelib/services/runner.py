"""The one delivery runner: claim → plan → (send) → transition → complete, over any `DeliveryQueue`.

Drivers only decide *when* and *how concurrently* to call it:
- the local engine (`scheduler_local.engine`) claims due work in batches from its dispatcher thread,
  sends on an asyncio loop and writes results in batches from a writer thread;
- the delivery Lambda (`adapters.aws.delivery`) claims the one message a timer event names and
  delivers it synchronously (`deliver`).
Everything between the queue and the HTTP sender is here: what an attempt sends, what its outcome
does to the message (the retry policy), which counters move, and admission (`inflight`).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chalicelib.domain.delivery import AttemptOutcome, DeliveryRequest
from chalicelib.domain.model import FailureReason, Message, Status
from chalicelib.domain.policy import DEFAULT_POLICY
from chalicelib.domain.retry import usage_of_transition
from chalicelib.ports import Clock, Completion, DeliveryQueue, Lease, Refused, TimerRef
from chalicelib.services.delivery import Skip, log_result, outcome_transition, plan_attempt
from chalicelib.services.inflight import InFlightLimiter, Unlimited

CLAIM_BATCH = 256
MAX_WAITING = 64  # leases claimed ahead and waiting for their time, at most (see `claim_ahead`)


class MissingPayload(LookupError):
    """A claimed message has no payload: it is never sent without it (its lease expires and it is retried)."""


@dataclass(frozen=True, slots=True)
class Written:
    """What `complete` wrote."""

    stale: list[Completion]  # dropped: the message moved on (changed, cancelled, taken back) meanwhile
    retry_due: int | None  # the earliest due time of a message now waiting for a retry
    widened: bool  # the limiter has room it did not have at the last claim


@dataclass(frozen=True, slots=True)
class Delivered:
    """One lease, delivered by `deliver`."""

    completion: Completion
    outcome: AttemptOutcome | None  # None: ended without an attempt
    stale: bool


@dataclass
class DeliveryRunner:
    """Runs deliveries against one queue; thread-safe as long as its queue and limiter are."""

    queue: DeliveryQueue
    clock: Clock
    lease_ms: int
    jitter: Callable[[], float] = random.random
    limiter: InFlightLimiter = field(default_factory=Unlimited)
    claim_batch: int = CLAIM_BATCH
    max_waiting: int = MAX_WAITING
    _waiting: int = field(default=0, init=False, repr=False)
    _waiting_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # ---- claiming --------------------------------------------------------------------------

    def claim_due(self) -> list[Lease]:
        """Claim what is due now, as much as the limiter admits."""
        admission = self.limiter.admission(self.claim_batch)
        if admission.limit <= 0:
            return []
        now = self.clock.now_ms()
        leases = self.queue.claim_due(now, admission, lease_until=now + self.lease_ms)
        self.limiter.acquire(leases)
        return leases

    def claim_ahead(self, ahead_ms: int) -> tuple[list[Lease], list[Lease]]:
        """Claim what is due now or within `ahead_ms`: (due now, in flight from now; due later, for the
        caller to send at their due time and `admit` then). Claiming ahead takes the storage write off the
        send's critical path. Leases waiting for their time hold no in-flight share until admitted (a
        tenant's share is what it sends), and at most `max_waiting` wait at once, so a burst due at one
        instant is claimed ahead only in part and overshoots the shares by no more than that."""
        admission = self.limiter.admission(self.claim_batch)
        if admission.limit <= 0:
            return [], []
        now = self.clock.now_ms()
        until = now + ahead_ms if self.claims_ahead() else now
        # not under the lock: `admit` (the delivery loop) must never wait for this storage write
        leases = self.queue.claim_due(until, admission, lease_until=until + self.lease_ms)
        due = [lease for lease in leases if lease.message.due_at <= now]
        ahead = [lease for lease in leases if lease.message.due_at > now]
        with self._waiting_lock:
            self._waiting += len(ahead)
        self.limiter.acquire(due)
        return due, ahead

    def claims_ahead(self) -> bool:
        """Whether `claim_ahead` would claim ahead now (fewer than `max_waiting` wait)."""
        with self._waiting_lock:
            return self._waiting < self.max_waiting

    def admit(self, leases: Sequence[Lease]) -> None:
        """Leases claimed ahead (`claim_ahead`) whose time came: in flight from now."""
        with self._waiting_lock:
            self._waiting -= len(leases)
        self.limiter.acquire(leases)

    def next_due(self) -> int | None:
        """When `claim_due` next has something to claim (None: nothing scheduled, or no room now)."""
        admission = self.limiter.admission(self.claim_batch)
        return self.queue.next_due(admission) if admission.limit > 0 else None

    def claim(self, ref: TimerRef) -> Lease | Refused:
        """Claim the message a timer names (see `DeliveryQueue.claim`)."""
        now = self.clock.now_ms()
        claimed = self.queue.claim(ref, now_ms=now, lease_until=now + self.lease_ms)
        if isinstance(claimed, Lease):
            self.limiter.acquire([claimed])
        return claimed

    def take_back_expired(self, limit: int = 1_000) -> list[Message]:
        """Leases that ran out go back to `scheduled` (delivery is at least once)."""
        return self.queue.take_back_expired(self.clock.now_ms(), limit=limit)

    # ---- one attempt -----------------------------------------------------------------------

    def prepare(self, lease: Lease) -> DeliveryRequest | Completion:
        """The request to send, or the completion of a lease that ends without an attempt."""
        if lease.payload_json is None:
            raise MissingPayload(f"the payload of {lease.message.id} is missing")
        plan = plan_attempt(lease.message, lease.app, lease.payload_json, self.clock.now_ms())
        if isinstance(plan, Skip):
            return Completion(plan.message, lease.message.gen, None, plan.usage)
        return plan

    def finish(self, lease: Lease, outcome: AttemptOutcome) -> Completion:
        """The completion of an attempt: the message's next state, the attempt record and counters."""
        policy = lease.app.retry if lease.app is not None else DEFAULT_POLICY
        after, attempt, usage = outcome_transition(
            lease.message, outcome, finished_at=self.clock.now_ms(), jitter=self.jitter(), policy=policy
        )
        return Completion(after, lease.message.gen, attempt, usage)

    def abandon(self, lease: Lease) -> Completion:
        """The completion of an attempt stopped because its app was deleted."""
        ended = lease.message.evolve(status=Status.CANCELLED, failure_reason=FailureReason.APP_DELETED)
        usage = usage_of_transition(ended, attempted=False, at_ms=self.clock.now_ms())
        return Completion(ended, lease.message.gen, None, usage)

    def failed_internally(self, lease: Lease) -> Completion:
        """The completion of an attempt that broke inside the service (counted as a failed attempt)."""
        now = self.clock.now_ms()
        return self.finish(lease, AttemptOutcome(now, 0, None, "internal_error", "", None))

    # ---- results ---------------------------------------------------------------------------

    def complete(self, completions: Sequence[Completion]) -> Written:
        """Write results; what was in flight is released only once written (or found stale)."""
        stale = self.queue.complete(completions)
        widened = self.limiter.release([c.message for c in completions])
        stale_ids = {id(c) for c in stale}
        for c in completions:
            if id(c) not in stale_ids:
                log_result(c.message, c.attempt)
        retries = [
            c.message.due_at for c in completions if c.message.status is Status.SCHEDULED and id(c) not in stale_ids
        ]
        return Written(stale, min(retries, default=None), widened)

    def deliver(self, lease: Lease, send: Callable[[DeliveryRequest], AttemptOutcome]) -> Delivered:
        """Prepare, send, and write one lease (the synchronous path of the delivery Lambda)."""
        step = self.prepare(lease)
        outcome = None
        if isinstance(step, Completion):
            completion = step
        else:
            outcome = send(step)
            completion = self.finish(lease, outcome)
        written = self.complete([completion])
        return Delivered(completion, outcome, stale=bool(written.stale))

"""The message state machine has no illegal transition, whatever the sequence of operations.

A hypothesis state machine drives one message through every operation the API (cancel, change,
redrive, app deleted) and the delivery side (claim, attempt outcome, expiry, abort) can apply.
Operations the current state does not allow must raise `WrongState` and change nothing; the
delivery-side steps are applied only to a claimed message and a message is claimed only once it
is due, as the runners do (their claims and writes are compare-and-set on the generation). Every
transition that happens must be in `ALLOWED`, bump the generation by exactly one, and keep the
fields consistent with the status (and no attempt starts before `sendAt`).
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from chalicelib.domain.errors import WrongState
from chalicelib.domain.model import (
    FailureReason,
    Message,
    Status,
    cancel,
    cancel_for_deleted_app,
    claim,
    redrive,
    reschedule,
)
from chalicelib.domain.retry import after_attempt, expire_unattempted
from tests.fuzz.profile import examples

S = Status
ALLOWED = {
    (S.SCHEDULED, S.DELIVERING),  # claim
    (S.DELIVERING, S.DELIVERED),  # 2xx
    (S.DELIVERING, S.FAILED),  # 410, exhausted, expired, app gone
    (S.DELIVERING, S.SCHEDULED),  # waits for a retry
    (S.DELIVERING, S.CANCELLED),  # attempt aborted because its app was deleted
    (S.SCHEDULED, S.CANCELLED),  # cancel, or its app deleted
    (S.SCHEDULED, S.SCHEDULED),  # change sendAt / payload
    (S.FAILED, S.SCHEDULED),  # redrive
    (S.CANCELLED, S.SCHEDULED),  # redrive
}
T0 = 1_800_000_000_000


class MessageLife(RuleBasedStateMachine):
    """One message, every operation, in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.message = Message(
            id="msg_1",
            tenant_id="t",
            app_id="app_1",
            status=S.SCHEDULED,
            send_at=T0,
            due_at=T0,
            created_at=T0,
            max_attempts=3,
            not_after=T0 + 600_000,
        )
        self.transitions = 0

    def apply(self, changed: Message) -> None:
        before = self.message
        assert (before.status, changed.status) in ALLOWED, (before.status, changed.status)
        assert changed.gen == before.gen + 1
        assert changed.attempts >= before.attempts
        self.message = changed
        self.transitions += 1

    def guarded(self, operation: str, **kwargs: int) -> None:
        """An operation that checks the state itself: it either moves legally or raises and changes nothing."""
        functions = {"cancel": cancel, "cancel_for_deleted_app": cancel_for_deleted_app, "claim": claim}
        before = self.message
        try:
            if operation == "reschedule":
                changed = reschedule(before, send_at=kwargs.get("send_at"))
            elif operation == "redrive":
                changed = redrive(before, send_at=kwargs["send_at"])
            else:
                changed = functions[operation](before)
        except WrongState:
            assert self.message is before
            return
        self.apply(changed)

    @rule(ms=st.integers(0, 3_600_000))
    def time_passes(self, ms: int) -> None:
        self.now += ms

    @rule(op=st.sampled_from(["cancel", "cancel_for_deleted_app", "claim"]))
    def simple(self, op: str) -> None:
        if op == "claim" and self.message.status is S.SCHEDULED and self.message.due_at > self.now:
            return  # runners claim only due messages (`due_at <= now` in the claim's condition)
        self.guarded(op)

    @rule(delay=st.one_of(st.none(), st.integers(0, 86_400_000)))
    def change(self, delay: int | None) -> None:
        self.guarded("reschedule", **({} if delay is None else {"send_at": self.now + delay}))

    @rule(delay=st.integers(0, 86_400_000))
    def redrive_it(self, delay: int) -> None:
        self.guarded("redrive", send_at=self.now + delay)

    @precondition(lambda self: self.message.status is S.DELIVERING)
    @rule(
        status=st.sampled_from([200, 204, 301, 404, 410, 429, 500, 503, None]),
        retry_after=st.one_of(st.none(), st.floats(0, 200_000)),
        took=st.integers(0, 10_000),
        jitter=st.floats(0, 0.999),
    )
    def attempt(self, status: int | None, retry_after: float | None, took: int, jitter: float) -> None:
        started = self.now
        self.now += took
        self.apply(
            after_attempt(
                self.message,
                started_at=started,
                finished_at=self.now,
                status_code=status,
                retry_after_s=retry_after,
                jitter=jitter,
            )
        )

    @precondition(lambda self: self.message.status is S.DELIVERING)
    @rule(abort=st.booleans())
    def end_without_attempt(self, abort: bool) -> None:
        if abort:  # the engine aborts an attempt in flight when the app is deleted
            self.apply(self.message.evolve(status=S.CANCELLED, failure_reason=FailureReason.APP_DELETED))
        else:
            self.apply(expire_unattempted(self.message))

    @invariant()
    def fields_agree_with_the_status(self) -> None:
        m = self.message
        assert (m.delivered_at is not None) == (m.status is S.DELIVERED)
        if m.status is S.FAILED:
            assert m.failure_reason is not None
        if m.status in (S.SCHEDULED, S.DELIVERING, S.DELIVERED):
            assert m.failure_reason is None
        assert (m.next_attempt_at is not None) == (m.status is S.SCHEDULED)
        assert m.attempts - m.attempts_base <= m.max_attempts
        assert m.due_at >= m.send_at
        if m.first_attempt_at is not None:
            assert m.late_ms is not None and m.late_ms >= 0, "an attempt started before sendAt"

    @invariant()
    def generation_counts_the_transitions(self) -> None:
        assert self.message.gen == 1 + self.transitions


MessageLife.TestCase.settings = examples(200, stateful_step_count=40)
test_the_message_state_machine_has_no_illegal_transition = MessageLife.TestCase

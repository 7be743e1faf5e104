"""The retry policy and the message state machine, with no I/O."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import WrongState
from chalicelib.domain.model import Message, Status, cancel, claim, redrive, reschedule
from chalicelib.domain.policy import DEFAULT_POLICY, RetryPolicy
from chalicelib.domain.retry import BACKOFF_MS, after_attempt, backoff_ms, retry_delay_ms

T0 = 1_800_000_000_000


def scheduled(**changes: object) -> Message:
    fields: dict[str, object] = dict(
        id="msg_1",
        tenant_id="t",
        app_id="app_1",
        status=Status.SCHEDULED,
        send_at=T0,
        due_at=T0,
        created_at=T0 - 1_000,
        max_attempts=3,
    )
    fields.update(changes)
    return Message(**fields)  # type: ignore[arg-type]


def attempt(message: Message, status: int | None, *, at: int = T0, retry_after: float | None = None) -> Message:
    return after_attempt(
        claim(message), started_at=at, finished_at=at + 10, status_code=status, retry_after_s=retry_after, jitter=0.5
    )


def test_backoff_follows_the_published_schedule_with_bounded_jitter() -> None:
    assert [backoff_ms(n, 0.5) for n in range(1, 8)] == list(BACKOFF_MS)
    assert backoff_ms(1, 0.0) == 4_000 and backoff_ms(1, 0.999999) == pytest.approx(6_000, abs=1)
    assert backoff_ms(20, 0.5) == BACKOFF_MS[-1]


def test_retry_after_wins_and_is_capped_at_a_day() -> None:
    assert retry_delay_ms(1, 2.5, 0.5) == 2_500
    assert retry_delay_ms(1, 10**9, 0.5) == 86_400_000
    assert retry_delay_ms(1, None, 0.5) == BACKOFF_MS[0]


def test_success_delivers_and_records_lateness() -> None:
    done = attempt(scheduled(), 204, at=T0 + 7)
    assert (done.status, done.attempts, done.late_ms, done.delivered_at) == (Status.DELIVERED, 1, 7, T0 + 17)


@pytest.mark.parametrize("status", [None, 301, 400, 429, 500, 503])
def test_failures_retry_after_the_backoff(status: int | None) -> None:
    retrying = attempt(scheduled(), status)
    assert retrying.status is Status.SCHEDULED
    assert retrying.due_at == T0 + 10 + BACKOFF_MS[0]
    assert retrying.next_attempt_at == retrying.due_at


def test_gone_fails_at_once_and_attempts_run_out() -> None:
    assert attempt(scheduled(), 410).failure_reason == "gone"
    message = scheduled(max_attempts=2)
    message = attempt(message, 500)
    message = attempt(message, 500, at=message.due_at)
    assert (message.status, message.failure_reason, message.attempts) == (Status.FAILED, "exhausted", 2)


def test_a_retry_after_not_after_expires_instead() -> None:
    expiring = attempt(scheduled(not_after=T0 + 1_000), 500)
    assert (expiring.status, expiring.failure_reason) == (Status.FAILED, "expired")


def test_every_transition_bumps_the_generation_once() -> None:
    message = scheduled()
    assert cancel(message).gen == message.gen + 1
    assert reschedule(message, send_at=T0 + 5).gen == message.gen + 1
    claimed = claim(message)
    assert attempt(message, 500).gen == claimed.gen + 1


@pytest.mark.parametrize("status", [Status.DELIVERING, Status.DELIVERED, Status.FAILED, Status.CANCELLED])
def test_only_scheduled_messages_can_be_cancelled_changed_or_claimed(status: Status) -> None:
    message = scheduled(status=status)
    for transition in (cancel, claim, lambda m: reschedule(m, send_at=T0)):
        with pytest.raises(WrongState):
            transition(message)


def test_redrive_only_from_failed_or_cancelled_with_a_fresh_budget() -> None:
    failed = attempt(scheduled(max_attempts=1), 500)
    again = redrive(failed, send_at=T0 + 60_000)
    assert (again.status, again.attempts_left, again.failure_reason, again.late_ms) == (Status.SCHEDULED, 1, None, None)
    with pytest.raises(WrongState):
        redrive(scheduled(), send_at=T0)


def test_a_retry_policy_spreads_its_own_schedule_and_caps_retry_after() -> None:
    policy = RetryPolicy(schedule_ms=(1_000, 4_000), jitter=0.5, max_attempts=5, max_retry_after_ms=10_000)
    assert [policy.backoff_ms(n, 0.5) for n in (1, 2, 3, 9)] == [1_000, 4_000, 4_000, 4_000]  # the last repeats
    assert (policy.backoff_ms(1, 0.0), policy.backoff_ms(1, 0.999)) == (500, 1_499)  # ±50 %
    assert policy.delay_ms(1, 60.0, 0.5) == 10_000 and policy.delay_ms(1, 2.0, 0.5) == 2_000
    assert RetryPolicy.from_dict(policy.as_dict(), max_attempts=5) == policy
    assert DEFAULT_POLICY.as_dict() is None and RetryPolicy.from_dict(None, max_attempts=8) == DEFAULT_POLICY


@pytest.mark.parametrize(
    "bad",
    [
        {"schedule_ms": ()},
        {"schedule_ms": (999,)},
        {"schedule_ms": (86_400_001,)},
        {"jitter": 0.51},
        {"max_attempts": 0},
        {"max_retry_after_ms": 86_400_001},
    ],
)
def test_a_retry_policy_refuses_values_it_cannot_run_with(bad: dict) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**bad)


def test_after_attempt_uses_the_given_policy() -> None:
    policy = RetryPolicy(schedule_ms=(2_000,), jitter=0.0)
    after = after_attempt(
        claim(scheduled()),
        started_at=T0,
        finished_at=T0 + 10,
        status_code=500,
        retry_after_s=None,
        jitter=0.9,
        policy=policy,
    )
    assert after.due_at == T0 + 2_010

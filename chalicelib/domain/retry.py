"""What an attempt's result does to a message, and when the next attempt runs (by a `RetryPolicy`)."""

from __future__ import annotations

import dataclasses

from chalicelib.domain.model import FailureReason, Message, Status, UsageDelta
from chalicelib.domain.policy import (
    BACKOFF_MS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_POLICY,
    JITTER,
    MAX_ATTEMPTS_LIMIT,
    MAX_RETRY_AFTER_MS,
    RetryPolicy,
)
from chalicelib.domain.times import day_of

__all__ = [
    "BACKOFF_MS",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_POLICY",
    "JITTER",
    "MAX_ATTEMPTS_LIMIT",
    "MAX_RETRY_AFTER_MS",
    "RetryPolicy",
    "after_attempt",
    "backoff_ms",
    "expire_unattempted",
    "is_expired",
    "is_success",
    "retry_delay_ms",
    "usage_of_transition",
]


def backoff_ms(failed_attempts: int, jitter: float) -> int:
    """The default policy's backoff (`RetryPolicy.backoff_ms`)."""
    return DEFAULT_POLICY.backoff_ms(failed_attempts, jitter)


def retry_delay_ms(failed_attempts: int, retry_after_s: float | None, jitter: float) -> int:
    """The default policy's delay (`RetryPolicy.delay_ms`)."""
    return DEFAULT_POLICY.delay_ms(failed_attempts, retry_after_s, jitter)


def is_success(status_code: int | None) -> bool:
    """A 2xx; redirects are not followed and count as failures."""
    return status_code is not None and 200 <= status_code < 300


def after_attempt(
    message: Message,
    *,
    started_at: int,
    finished_at: int,
    status_code: int | None,
    retry_after_s: float | None,
    jitter: float,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> Message:
    """The message after one attempt of a claimed (`delivering`) message, retried by its app's `policy`
    (the message keeps its own `max_attempts`, fixed when it was scheduled)."""
    attempts = message.attempts + 1
    base = message.evolve(attempts=attempts, first_attempt_at=message.first_attempt_at or started_at)
    if is_success(status_code):
        return _finish(base, Status.DELIVERED, delivered_at=finished_at)
    if status_code == 410:
        return _finish(base, Status.FAILED, failure_reason=FailureReason.GONE)
    failed_so_far = attempts - message.attempts_base
    if failed_so_far >= message.max_attempts:
        return _finish(base, Status.FAILED, failure_reason=FailureReason.EXHAUSTED)
    next_due = finished_at + policy.delay_ms(failed_so_far, retry_after_s, jitter)
    if message.not_after is not None and next_due > message.not_after:
        return _finish(base, Status.FAILED, failure_reason=FailureReason.EXPIRED)
    return _finish(base, Status.SCHEDULED, due_at=next_due)


def expire_unattempted(message: Message) -> Message:
    """A claimed message whose `notAfter` passed before it could be attempted."""
    return message.evolve(status=Status.FAILED, failure_reason=FailureReason.EXPIRED)


def is_expired(message: Message, now_ms: int) -> bool:
    """Whether `notAfter` has passed."""
    return message.not_after is not None and now_ms > message.not_after


def usage_of_transition(after: Message, *, attempted: bool, at_ms: int) -> UsageDelta:
    """The counters a delivery-side transition adds: one attempt, and delivered or failed if it ended."""
    return UsageDelta(
        tenant_id=after.tenant_id,
        day=day_of(at_ms),
        attempts=1 if attempted else 0,
        delivered=1 if after.status is Status.DELIVERED else 0,
        failed=1 if after.status is Status.FAILED else 0,
    )


def _finish(message: Message, status: Status, **changes: object) -> Message:
    # `message` already carries the new generation; finishing must not bump it twice.
    return dataclasses.replace(message, status=status, **changes)  # type: ignore[arg-type]

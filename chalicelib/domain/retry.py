"""Retry policy: what an attempt's result does to a message, and when the next attempt runs."""

from __future__ import annotations

import dataclasses

from chalicelib.domain.model import FailureReason, Message, Status, UsageDelta
from chalicelib.domain.times import day_of

# Delay after the 1st, 2nd, ... failed attempt; the last value repeats.
BACKOFF_MS = (5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000)
JITTER = 0.2  # each delay is spread over ±20 % so retries of many messages do not move in lockstep
MAX_RETRY_AFTER_MS = 86_400_000
DEFAULT_MAX_ATTEMPTS = 8
MAX_ATTEMPTS_LIMIT = 50


def backoff_ms(failed_attempts: int, jitter: float) -> int:
    """Delay before the next attempt after `failed_attempts` failures; `jitter` is uniform in [0, 1)."""
    base = BACKOFF_MS[min(failed_attempts, len(BACKOFF_MS)) - 1]
    return round(base * (1 - JITTER + 2 * JITTER * jitter))


def retry_delay_ms(failed_attempts: int, retry_after_s: float | None, jitter: float) -> int:
    """`Retry-After` when the receiver sent one (capped at 24 h), else the backoff."""
    if retry_after_s is not None and retry_after_s >= 0:
        return min(round(retry_after_s * 1000), MAX_RETRY_AFTER_MS)
    return backoff_ms(failed_attempts, jitter)


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
) -> Message:
    """The message after one attempt of a claimed (`delivering`) message."""
    attempts = message.attempts + 1
    base = message.evolve(attempts=attempts, first_attempt_at=message.first_attempt_at or started_at)
    if is_success(status_code):
        return _finish(base, Status.DELIVERED, delivered_at=finished_at)
    if status_code == 410:
        return _finish(base, Status.FAILED, failure_reason=FailureReason.GONE)
    failed_so_far = attempts - message.attempts_base
    if failed_so_far >= message.max_attempts:
        return _finish(base, Status.FAILED, failure_reason=FailureReason.EXHAUSTED)
    next_due = finished_at + retry_delay_ms(failed_so_far, retry_after_s, jitter)
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

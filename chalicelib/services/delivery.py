"""The pure steps of one delivery, used by the runner (`services.runner`): what a claimed message
sends (or why it ends without an attempt), and what an attempt's outcome does to it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from chalicelib.domain.delivery import AttemptOutcome, DeliveryRequest
from chalicelib.domain.model import App, Attempt, FailureReason, Message, Status, UsageDelta
from chalicelib.domain.policy import DEFAULT_POLICY, RetryPolicy
from chalicelib.domain.retry import after_attempt, expire_unattempted, is_expired, usage_of_transition
from chalicelib.domain.times import format_ms

log = logging.getLogger("scheduler.delivery")


@dataclass(frozen=True, slots=True)
class Skip:
    """A claimed message that ends without an attempt (app gone, or `notAfter` passed)."""

    message: Message
    usage: UsageDelta


def plan_attempt(claimed: Message, app: App | None, payload_json: str, now_ms: int) -> DeliveryRequest | Skip:
    """The HTTP request for a claimed message, or why it ends without one."""
    if app is None:
        ended = claimed.evolve(status=Status.FAILED, failure_reason=FailureReason.APP_DELETED)
        return Skip(ended, usage_of_transition(ended, attempted=False, at_ms=now_ms))
    if is_expired(claimed, now_ms):
        ended = expire_unattempted(claimed)
        return Skip(ended, usage_of_transition(ended, attempted=False, at_ms=now_ms))
    return DeliveryRequest(
        message_id=claimed.id,
        app_id=app.id,
        url=app.url,
        headers=app.headers,
        body=payload_json.encode(),
        secrets=app.signing_secrets(now_ms),
        scheduled_at=format_ms(claimed.send_at),
        attempt=claimed.attempts + 1,
    )


def outcome_transition(
    claimed: Message,
    outcome: AttemptOutcome,
    *,
    finished_at: int,
    jitter: float,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> tuple[Message, Attempt, UsageDelta]:
    """The message after the attempt (retried by `policy`, its app's), the attempt record, and its counters."""
    after = after_attempt(
        claimed,
        policy=policy,
        started_at=outcome.started_at_ms,
        finished_at=finished_at,
        status_code=outcome.status_code,
        retry_after_s=outcome.retry_after_s,
        jitter=jitter,
    )
    attempt = Attempt(
        message_id=claimed.id,
        tenant_id=claimed.tenant_id,
        app_id=claimed.app_id,
        n=after.attempts,
        started_at=outcome.started_at_ms,
        duration_ms=outcome.duration_ms,
        status_code=outcome.status_code,
        error=outcome.error,
        response_snippet=outcome.response_snippet,
    )
    return after, attempt, usage_of_transition(after, attempted=True, at_ms=finished_at)


def log_result(message: Message, attempt: Attempt | None) -> None:
    """One INFO line for a recorded delivery result: the message, its attempt (this round's number and
    the round's budget), the HTTP status and time, then what happens next: delivered, a retry at a time,
    or the final state with its reason. Keys for `LOG_FORMAT=json`; never a payload or a header."""
    if not log.isEnabledFor(logging.INFO):
        return
    keys: dict[str, object] = {"messageId": message.id, "tenant": message.tenant_id, "appId": message.app_id}
    if message.status is Status.DELIVERED:
        outcome = "delivered"
    elif message.status is Status.SCHEDULED:
        outcome = f"retry at {format_ms(message.due_at)}"
        keys["nextAttemptAt"] = format_ms(message.due_at)
    else:
        reason = message.failure_reason.value if message.failure_reason else "unknown"
        outcome = f"{message.status.value}: {reason}"
        keys["failureReason"] = reason
    keys["outcome"] = message.status.value if message.status is not Status.SCHEDULED else "retry"
    if attempt is None:
        log.info("%s ended without an attempt, %s", message.id, outcome, extra=keys)
        return
    status = "no response" if attempt.status_code is None else str(attempt.status_code)
    keys |= {"attempt": message.round_attempts, "maxAttempts": message.max_attempts}
    keys |= {"statusCode": attempt.status_code, "ms": attempt.duration_ms}
    detail = "" if attempt.error is None or attempt.status_code is not None else f" ({attempt.error})"
    log.info(
        "%s attempt %d/%d %s%s in %dms, %s",
        message.id,
        message.round_attempts,
        message.max_attempts,
        status,
        detail,
        attempt.duration_ms,
        outcome,
        extra=keys,
    )

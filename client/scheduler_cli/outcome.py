"""What happens next, in words: for a message (`show`) and after an attempt (`tail`).

A message says it itself: `retry at T (attempt 2 of 3)`, `delivered at T`, `failed: gave up after 3
attempts`. An attempt needs its message's state to say more than its own status: the feed records
what happened, the message what comes next (a retry, the end), so `tail` looks the message up for
every attempt that did not deliver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduler_client import Attempt, Message
    from scheduler_client.models import PlanOut

_REASONS = {
    "gone": "the endpoint answered 410 Gone",
    "expired": "not delivered before its notAfter",
    "app_deleted": "its app was deleted",
}


def round_attempts(message: Message) -> int:
    """Attempts since the last redrive (servers before `roundAttempts` report only the total)."""
    return message.attempts if message.roundAttempts is None else message.roundAttempts


def attempts_text(message: Message) -> str:
    """`1/3`, or `1/3 (7 in all)` after a redrive: the budget of this round, never `7/3`."""
    done = round_attempts(message)
    text = f"{done}/{message.maxAttempts}"
    return text if done == message.attempts else f"{text} ({message.attempts} in all)"


def reason_text(message: Message) -> str:
    """Why a message ended failed (or cancelled with its app)."""
    if message.failureReason == "exhausted":
        done = round_attempts(message)
        return f"gave up after {done} attempt{'' if done == 1 else 's'} (maxAttempts {message.maxAttempts})"
    return _REASONS.get(message.failureReason or "", message.failureReason or "no reason recorded")


def next_step(message: Message) -> str:
    """What happens to `message` next, or how it ended."""
    if message.status == "scheduled":
        done = round_attempts(message)
        if done == 0:
            return f"first attempt at {message.nextAttemptAt}"
        return f"retry at {message.nextAttemptAt} (attempt {done + 1} of {message.maxAttempts})"
    ended = {
        "delivering": "an attempt is in flight",
        "delivered": f"delivered at {message.deliveredAt}",
        "failed": f"failed: {reason_text(message)}; `scheduler redrive {message.id}` tries again",
    }
    if message.status in ended:
        return ended[message.status]
    if message.failureReason == "app_deleted":
        return "cancelled: its app was deleted"
    return f"cancelled; `scheduler redrive {message.id}` schedules it again"


def delivered(attempt: Attempt) -> bool:
    """Whether the attempt got a 2xx."""
    return attempt.statusCode is not None and 200 <= attempt.statusCode < 300


def after_attempt(attempt: Attempt, message: Message | None) -> str:
    """The verdict on one attempt and, when it did not deliver, what happened next to its message."""
    if delivered(attempt):
        return "delivered"
    failed = f"failed: {attempt.error or f'HTTP {attempt.statusCode}'}"
    if message is None:
        return failed
    if message.attempts > attempt.n:
        return f"{failed}; retried"
    then = {
        "scheduled": f"retry at {message.nextAttemptAt}",
        "delivering": "retrying now",
        "failed": reason_text(message),
    }
    return f"{failed}; {then.get(message.status, message.status)}"


def plan_text(plan: PlanOut) -> str:
    """`plan free: 10 requests/s (burst 20), 1,000 messages a day`."""
    rate = "no rate limit" if plan.ratePerSecond is None else f"{plan.ratePerSecond:g} requests/s (burst {plan.burst})"
    quota = "no daily quota" if plan.dailyQuota is None else f"{plan.dailyQuota:,} messages a day"
    return f"plan {plan.name}: {rate}, {quota}"

"""When and how a message is woken on AWS: pure rules, no boto3 (the precision simulation runs them).

Two stages give second precision on services that have minute precision:

1. Due within `SQS_WINDOW_MS` (14 min, under SQS's 15 min `DelaySeconds` cap): the message goes to
   the release queue with `DelaySeconds` = whole seconds left, rounded down (never late).
2. Later: a one-time EventBridge Scheduler schedule `at(yyyy-mm-ddThh:mm:ss)` (UTC) at `sendAt - lead`,
   floored to the whole minute. EventBridge fires anywhere in that minute (0-59 s late), so with a
   lead of 90 s it fires 31-150 s early; the delivery Lambda re-queues with the seconds left.

The Lambda that receives a release message early by less than `MAX_WAIT_MS` waits out the rest;
earlier than that it re-queues again. Nothing is attempted before `dueAt`.

AWS rejects schedule names and expressions that moto accepts, so both are validated here:
names are 1-64 characters of `[0-9A-Za-z-_.]`; `at()` takes a real calendar time, whole seconds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.adapters.aws import limits

SQS_MAX_DELAY_S = limits.SQS_MAX_DELAY_S
SQS_WINDOW_MS = 14 * 60_000
DEFAULT_LEAD_S = 90
MAX_WAIT_MS = 2_000  # a release message this early is waited out in the Lambda; earlier ones re-queue
ARM_GRACE_MS = 90_000  # a message still unclaimed this long after its due time is re-armed by cleanup
MAX_NAME_LENGTH = limits.SCHEDULE_NAME_MAX

_NAME = re.compile(f"{limits.SCHEDULE_NAME_CHARS}{{1,{limits.SCHEDULE_NAME_MAX}}}")
_AT = re.compile(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)")
_MESSAGE_ID = re.compile(r"msg_([0-9A-HJKMNP-TV-Z]{26})")
_SCHEDULE_NAME = re.compile(r"m-([0-9A-HJKMNP-TV-Z]{26})-([1-9][0-9]{0,17})")


class InvalidScheduleSpec(ValueError):
    """A schedule name or expression that EventBridge Scheduler would reject."""


@dataclass(frozen=True, slots=True)
class ReleaseAfter:
    """Arm through the release queue: deliver after `delay_s` whole seconds."""

    delay_s: int


@dataclass(frozen=True, slots=True)
class ScheduleAt:
    """Arm with a one-time schedule firing at `fire_at_ms` (a whole minute), expressed as `expression`."""

    fire_at_ms: int
    expression: str


def plan_arm(due_at: int, now_ms: int, *, lead_s: int = DEFAULT_LEAD_S) -> ReleaseAfter | ScheduleAt:
    """How to wake a message due at `due_at` (Unix ms), seen at `now_ms`."""
    if due_soon(due_at, now_ms):
        return ReleaseAfter(release_delay_s(due_at, now_ms))
    fire_at = (due_at - lead_s * 1000) // 60_000 * 60_000
    return ScheduleAt(fire_at, at_expression(fire_at))


def due_soon(due_at: int, now_ms: int) -> bool:
    """Whether a message due at `due_at` is armed through the release queue when armed at `now_ms`."""
    return due_at - now_ms <= SQS_WINDOW_MS


def release_delay_s(due_at: int, now_ms: int) -> int:
    """`DelaySeconds` for a release message: whole seconds left, rounded down, within SQS's limit."""
    return max(0, min(SQS_MAX_DELAY_S, (due_at - now_ms) // 1000))


def wait_ms(due_at: int, now_ms: int) -> int | None:
    """How long a Lambda holding a release message waits before claiming it: 0 when due, the rest when
    it is early by less than `MAX_WAIT_MS`, or None when it is so early that it must be re-queued."""
    remaining = due_at - now_ms
    if remaining <= 0:
        return 0
    return remaining if remaining < MAX_WAIT_MS else None


def at_expression(at_ms: int) -> str:
    """`at(yyyy-mm-ddThh:mm:ss)` in UTC for an instant (fractions of a second are dropped)."""
    moment = datetime.fromtimestamp(at_ms // 1000, tz=UTC)
    expression = f"at({moment:%Y-%m-%dT%H:%M:%S})"
    validate_at_expression(expression)
    return expression


def validate_at_expression(expression: str) -> datetime:
    """The UTC time of an `at()` expression, or `InvalidScheduleSpec` for anything AWS rejects."""
    match = _AT.fullmatch(expression)
    if match is None:
        raise InvalidScheduleSpec(f"not an at(yyyy-mm-ddThh:mm:ss) expression: {expression!r}")
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise InvalidScheduleSpec(f"not a real time: {expression!r}") from exc


def validate_name(name: str, *, what: str = "schedule name") -> str:
    """`name` if EventBridge Scheduler accepts it as a schedule or group name, else `InvalidScheduleSpec`."""
    if not _NAME.fullmatch(name):
        raise InvalidScheduleSpec(f"{what} must be 1-{MAX_NAME_LENGTH} characters of [0-9A-Za-z-_.]: {name!r}")
    return name


def schedule_name(message_id: str, gen: int) -> str:
    """`m-<ULID>-<gen>`: the schedule of one generation of one message (unique, so it doubles as the
    create's idempotency key). The tenant is not in it: a Cognito `sub` plus a message id is too long."""
    match = _MESSAGE_ID.fullmatch(message_id)
    if match is None or gen < 1:
        raise InvalidScheduleSpec(f"cannot name a schedule for {message_id!r} generation {gen}")
    return validate_name(f"m-{match.group(1)}-{gen}")


def parse_schedule_name(name: str) -> tuple[str, int] | None:
    """`(message id, gen)` of a name made by `schedule_name`, or None for any other name."""
    match = _SCHEDULE_NAME.fullmatch(name)
    if match is None:
        return None
    return f"msg_{match.group(1)}", int(match.group(2))


def fire_at_ms(expression: str) -> int:
    """Unix ms of an `at()` expression."""
    return math.floor(validate_at_expression(expression).timestamp() * 1000)


def wake_at(due_at: int, now_ms: int, *, arm_horizon_ms: int | None = None) -> int:
    """The wake index key of a `scheduled` message: when cleanup must look at it if nothing else has.

    Normally `dueAt + ARM_GRACE_MS` (a message still unclaimed then lost its timer). With an arm horizon,
    a message due further ahead is not armed at create: it wakes at `dueAt - horizon` to be armed then.
    """
    if arm_horizon_ms is not None and due_at - now_ms > arm_horizon_ms:
        return due_at - arm_horizon_ms
    return max(due_at, now_ms) + ARM_GRACE_MS


def arm_now(due_at: int, now_ms: int, *, arm_horizon_ms: int | None = None) -> bool:
    """Whether a message is armed when stored (False: beyond the arm horizon; cleanup arms it later)."""
    return arm_horizon_ms is None or due_at - now_ms <= arm_horizon_ms

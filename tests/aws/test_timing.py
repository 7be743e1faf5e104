"""Timing rules of the AWS timer: names and `at()` expressions AWS accepts, and second precision.

moto accepts any schedule name and expression, so these checks are ours: what EventBridge Scheduler
rejects (names over 64 characters or outside `[0-9A-Za-z-_.]`, `at()` times that are not real
calendar times in whole seconds) never reaches it.
"""

from __future__ import annotations

import heapq
import json
import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.adapters.aws import timing
from chalicelib.adapters.aws.config import AwsConfig, aws_config_from
from chalicelib.adapters.aws.delivery import DeliveryWorker
from chalicelib.adapters.aws.timer import AwsTimer
from chalicelib.domain.ids import MESSAGE_PREFIX, new_id
from chalicelib.domain.model import Message, Status
from chalicelib.ports import Refused, TimerRef
from chalicelib.services.runner import DeliveryRunner
from chalicelib.settings import ConfigError

ULID = "01J0000000000000000000000Z"


# ---- names and expressions -------------------------------------------------------------------


def test_schedule_names_are_m_ulid_gen_and_parse_back() -> None:
    name = timing.schedule_name(f"msg_{ULID}", 7)
    assert name == f"m-{ULID}-7"
    assert timing.parse_schedule_name(name) == (f"msg_{ULID}", 7)
    assert len(timing.schedule_name(f"msg_{ULID}", 10**17)) <= 64


@pytest.mark.parametrize(
    "name",
    [
        "",
        "x" * 65,
        "has space",
        "slash/not-allowed",
        "colon:no",
        "ümlaut",
        "star*",
        "m-" + ULID + "-1\n",
    ],
)
def test_names_aws_rejects_are_rejected(name: str) -> None:
    with pytest.raises(timing.InvalidScheduleSpec):
        timing.validate_name(name)


@pytest.mark.parametrize("name", ["a", "x" * 64, "m-01J-1", "group_name.v2-A"])
def test_names_aws_accepts_are_accepted(name: str) -> None:
    assert timing.validate_name(name) == name


@pytest.mark.parametrize(
    "message_id, gen",
    [("msg_short", 1), (f"app_{ULID}", 1), (f"msg_{ULID}", 0), (f"msg_{ULID.lower()}", 1), (f"msg_{ULID}x", 1)],
)
def test_schedule_name_refuses_what_is_not_a_message_generation(message_id: str, gen: int) -> None:
    with pytest.raises(timing.InvalidScheduleSpec):
        timing.schedule_name(message_id, gen)


def test_a_cognito_sub_plus_message_id_would_not_fit() -> None:
    sub = "3f1c6a2e-9b7d-4e55-a1f0-6c2d8e4b9a10"
    with pytest.raises(timing.InvalidScheduleSpec):
        timing.validate_name(f"{sub}-msg_{ULID}-1")


@pytest.mark.parametrize(
    "expression",
    [
        "at(2026-13-01T00:00:00)",  # month 13
        "at(2026-02-30T00:00:00)",  # no such day
        "at(2026-01-01T24:00:00)",
        "at(2026-01-01T00:60:00)",
        "at(2026-01-01 00:00:00)",  # space instead of T
        "at(2026-01-01T00:00:00Z)",  # zone suffix
        "at(2026-01-01T00:00:00.500)",  # fraction
        "at(2026-1-01T00:00:00)",
        "at(2026-01-01)",
        "cron(0 12 * * ? *)",
        "rate(5 minutes)",
        "some cron",
        "at (2026-01-01T00:00:00)",
    ],
)
def test_expressions_aws_rejects_are_rejected(expression: str) -> None:
    with pytest.raises(timing.InvalidScheduleSpec):
        timing.validate_at_expression(expression)


def test_at_expression_is_utc_whole_seconds() -> None:
    assert timing.at_expression(1_800_000_000_999) == "at(2027-01-15T08:00:00)"
    assert timing.fire_at_ms("at(2027-01-15T08:00:00)") == 1_800_000_000_000
    assert timing.validate_at_expression("at(2028-02-29T23:59:59)").second == 59


def test_group_name_from_the_environment_is_validated() -> None:
    assert aws_config_from({"SCHEDULER_SCHEDULE_GROUP": "scheduler-prod"}).schedule_group == "scheduler-prod"
    with pytest.raises(timing.InvalidScheduleSpec):
        aws_config_from({"SCHEDULER_SCHEDULE_GROUP": "bad group"})
    with pytest.raises(ConfigError):
        aws_config_from({"SCHEDULER_LEAD_S": "5"})


# ---- plans ---------------------------------------------------------------------------------------


def test_the_last_fourteen_minutes_go_to_the_release_queue_rounded_down() -> None:
    now = 1_800_000_000_000
    assert timing.plan_arm(now + 5_999, now) == timing.ReleaseAfter(5)
    assert timing.plan_arm(now, now) == timing.ReleaseAfter(0)
    assert timing.plan_arm(now - 10_000, now) == timing.ReleaseAfter(0)
    assert timing.plan_arm(now + timing.SQS_WINDOW_MS, now) == timing.ReleaseAfter(840)


def test_later_messages_get_a_minute_aligned_schedule_lead_seconds_early() -> None:
    now = 1_800_000_000_000
    due = now + timing.SQS_WINDOW_MS + 1
    plan = timing.plan_arm(due, now, lead_s=90)
    assert isinstance(plan, timing.ScheduleAt)
    assert plan.fire_at_ms % 60_000 == 0
    assert due - 150_000 <= plan.fire_at_ms <= due - 90_000
    assert plan.fire_at_ms > now
    assert timing.fire_at_ms(plan.expression) == plan.fire_at_ms


def test_wait_ms_waits_out_under_two_seconds_and_requeues_beyond() -> None:
    assert timing.wait_ms(1_000, 1_000) == 0
    assert timing.wait_ms(1_000, 2_000) == 0
    assert timing.wait_ms(2_999, 1_000) == 1_999
    assert timing.wait_ms(3_000, 1_000) is None


# ---- precision: the real timer and worker on a simulated clock ----------------------------------


@dataclass
class SimClock:
    now: int = 0

    def now_ms(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


@dataclass
class World:
    """Simulated SQS and EventBridge Scheduler: calls become events on one timeline."""

    clock: SimClock
    rng: random.Random
    events: list[tuple[int, int, str, str]] = field(default_factory=list)
    seq: int = 0
    attempts: dict[str, int] = field(default_factory=dict)
    early_fires: int = 0

    def push(self, at: int, kind: str, body: str) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, self.seq, kind, body))

    # boto3 SQS client
    def send_message(self, *, QueueUrl: str, MessageBody: str, DelaySeconds: int) -> dict[str, Any]:
        assert 0 <= DelaySeconds <= 900
        pickup = self.rng.randint(0, 500)  # SQS + event source mapping + Lambda start
        self.push(self.clock.now + DelaySeconds * 1000 + pickup, "sqs", MessageBody)
        return {}

    # boto3 Scheduler client
    def create_schedule(self, **kwargs: Any) -> dict[str, Any]:
        timing.validate_name(kwargs["Name"])
        at = timing.fire_at_ms(kwargs["ScheduleExpression"])
        assert kwargs["FlexibleTimeWindow"] == {"Mode": "OFF"} and kwargs["ActionAfterCompletion"] == "DELETE"
        assert at > self.clock.now
        self.push(at + self.rng.randint(0, 59_999), "schedule", kwargs["Target"]["Input"])  # anywhere in its minute
        return {}

    # the bits of the message store the timer and worker touch
    table = "messages"

    def set_wake(self, message: Message, wake_at: int) -> bool:
        raise AssertionError("nothing fails to arm in this simulation")

    # the delivery queue's claim (what the runner asks the worker's queue)
    def claim(self, ref: TimerRef, *, now_ms: int, lease_until: int) -> Refused:
        self.attempts[ref.message_id] = now_ms
        return Refused(None)


def _simulate(offsets_ms: list[int], seed: int) -> tuple[dict[str, int], dict[str, int]]:
    clock = SimClock()
    world = World(clock, random.Random(seed))
    config = AwsConfig(release_queue_url="q", delivery_function_arn="fn", scheduler_role_arn="role", lead_s=90)
    timer = AwsTimer(sqs=world, scheduler=world, messages=world, config=config, clock=clock)  # type: ignore[arg-type]
    worker = DeliveryWorker(
        runner=DeliveryRunner(world, clock, lease_ms=60_000),  # type: ignore[arg-type]
        messages=world,  # type: ignore[arg-type]
        timer=timer,
        send=None,  # type: ignore[arg-type]
        clock=clock,
        sleep=lambda s: clock.advance(round(s * 1000)),
        metric=lambda name, value: None,
    )
    due: dict[str, int] = {}
    rng = random.Random(seed + 1)
    start = 1_800_000_000_000
    for offset in offsets_ms:
        created = start + rng.randint(0, 86_400_000)  # at any ms of a day
        message_id = new_id(MESSAGE_PREFIX)
        due[message_id] = created + offset
        world.push(created, "create", message_id)
    while world.events:
        at, _, kind, body = heapq.heappop(world.events)
        clock.now = at  # each handler runs on its own (concurrent) Lambda, from its event's time
        if kind == "create":
            timer.arm([Message(body, "t", "app", Status.SCHEDULED, due[body], due[body], at, 8)])
        elif kind == "schedule":
            world.early_fires += json.loads(body)["dueAt"] > clock.now
            worker.on_schedule(json.loads(body))
        else:
            worker.on_release(json.loads(body))
    return due, world.attempts


def test_every_message_from_one_second_to_one_year_is_attempted_within_a_second_never_early() -> None:
    rng = random.Random(7)
    year_ms = 366 * 86_400_000
    offsets = [round(1_000 * (year_ms / 1_000) ** rng.random()) for _ in range(3_000)]  # log-uniform 1 s .. 1 y
    offsets += [1_000, 1_001, 59_999, timing.SQS_WINDOW_MS, timing.SQS_WINDOW_MS + 1, 15 * 60_000, year_ms]
    due, attempted = _simulate(offsets, seed=11)
    assert set(attempted) == set(due)
    lateness = [attempted[m] - due[m] for m in due]
    assert min(lateness) >= 0, "attempted before sendAt"
    assert max(lateness) < 1_000, max(lateness)

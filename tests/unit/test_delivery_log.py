"""The INFO line per delivery result: which message, which attempt of the round, status, time, and
what happens next (delivered / retry at T / failed: reason)."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from chalicelib.domain.delivery import AttemptOutcome
from chalicelib.domain.model import Attempt, FailureReason, Message, Principal, Scope, Status
from chalicelib.domain.schemas import AppCreate
from chalicelib.domain.times import format_ms
from chalicelib.ports import Lease, TimerRef
from chalicelib.services import apps, messages
from chalicelib.services.context import Context
from chalicelib.services.delivery import log_result
from chalicelib.services.runner import DeliveryRunner
from tests.support.doubles import SettableClock

NOW = 1_800_000_000_000
BASE = Message("msg_1", "ten_1", "app_1", Status.SCHEDULED, NOW, NOW, NOW, max_attempts=3)


def _attempt(n: int, status: int | None, error: str | None = None) -> Attempt:
    return Attempt("msg_1", "ten_1", "app_1", n, NOW, 12, status, error, "")


@pytest.mark.parametrize(
    ("message", "attempt", "line"),
    [
        (
            dataclasses.replace(BASE, status=Status.DELIVERED, attempts=1),
            _attempt(1, 200),
            "msg_1 attempt 1/3 200 in 12ms, delivered",
        ),
        (
            dataclasses.replace(BASE, attempts=1, due_at=NOW + 5_000),
            _attempt(1, 500),
            f"msg_1 attempt 1/3 500 in 12ms, retry at {format_ms(NOW + 5_000)}",
        ),
        (
            dataclasses.replace(
                BASE, status=Status.FAILED, attempts=6, attempts_base=3, failure_reason=FailureReason.EXHAUSTED
            ),
            _attempt(6, None, "timeout"),
            "msg_1 attempt 3/3 no response (timeout) in 12ms, failed: exhausted",
        ),
        (
            dataclasses.replace(BASE, status=Status.FAILED, failure_reason=FailureReason.EXPIRED),
            None,
            "msg_1 ended without an attempt, failed: expired",
        ),
    ],
)
def test_one_line_per_result(
    message: Message, attempt: Attempt | None, line: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="scheduler.delivery"):
        log_result(message, attempt)
    [record] = caplog.records
    assert record.getMessage() == line
    assert record.messageId == "msg_1" and record.tenant == "ten_1"  # type: ignore[attr-defined]


def test_nothing_is_formatted_when_info_is_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="scheduler.delivery"):
        log_result(BASE, _attempt(1, 500))
    assert caplog.records == []


def test_the_runner_logs_after_its_write_and_not_for_a_stale_result(
    ctx: Context, clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    who = Principal("ten_1", "unlimited", frozenset({Scope.ADMIN}))
    app = apps.create_app(ctx, who, AppCreate(name="a", url="https://example.com/"))
    [made] = messages.schedule(ctx, who, [{"appId": app.id, "payload": 1, "delaySeconds": 0}])
    assert isinstance(made, messages.Inserted)
    runner = DeliveryRunner(ctx.deliveries, clock, lease_ms=60_000, jitter=lambda: 0.5)
    lease = runner.claim(TimerRef(who.tenant_id, made.message.id, made.message.gen))
    assert isinstance(lease, Lease)
    completion = runner.finish(lease, AttemptOutcome(clock.now, 9, 500, "http_status: 500", "", None))
    with caplog.at_level(logging.INFO, logger="scheduler.delivery"):
        runner.complete([completion])
        runner.complete([completion])  # written twice: the second is stale and says nothing
    [record] = caplog.records
    due = format_ms(completion.message.due_at)
    assert record.getMessage() == f"{made.message.id} attempt 1/8 500 in 9ms, retry at {due}"

"""The INFO line per delivery result: which message, which attempt of the round, status, time, and
what happens next (delivered / retry at T / failed: reason)."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from chalicelib.domain.delivery import AttemptOutcome
from chalicelib.domain.model import Attempt, FailureReason, Message, Status
from chalicelib.domain.times import format_ms
from chalicelib.services.delivery import log_result, record_outcome

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


class _Store:
    """Just enough of a MessageStore for `record_outcome` (the AWS delivery Lambda's write)."""

    def __init__(self) -> None:
        self.saved: list[Message] = []

    def save(self, message: Message, **_: object) -> None:
        self.saved.append(message)


def test_the_aws_path_logs_after_its_write(caplog: pytest.LogCaptureFixture) -> None:
    claimed = dataclasses.replace(BASE, status=Status.DELIVERING)
    outcome = AttemptOutcome(NOW, 9, 500, "http_status: 500", "", None)
    store = _Store()
    with caplog.at_level(logging.INFO, logger="scheduler.delivery"):
        after = record_outcome(store, claimed, outcome, finished_at=NOW + 9, jitter=0.5)  # type: ignore[arg-type]
    assert store.saved == [after]
    [record] = caplog.records
    assert record.getMessage() == f"msg_1 attempt 1/3 500 in 9ms, retry at {format_ms(after.due_at)}"

"""Receiver down, then back: every message is delivered by the retry schedule soon after the recovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.outage import Mode, outage_run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Retry-After: 1 is honoured as is; a refused connection waits for the first backoff step (5 s + 20 % jitter).
RECOVERY_BOUND_S = {"503": 1.0 + 1.5, "refused": 6.0 + 1.5}


@pytest.mark.parametrize("mode", ["503", "refused"])
def test_receiver_down_then_back_gets_every_message(tmp_path: Path, full: bool, mode: Mode) -> None:
    messages = 2_000 if full else (200 if mode == "503" else 100)
    report = outage_run(tmp_path / "data", messages=messages, mode=mode)
    print(report.as_dict())
    assert report.failed_attempts_while_down >= messages * (2 if mode == "503" else 1)
    assert report.delivered == messages, report
    assert report.min_attempts >= (3 if mode == "503" else 2), report
    assert report.recovery_s <= RECOVERY_BOUND_S[mode], report

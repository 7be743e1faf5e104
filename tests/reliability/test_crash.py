"""SIGKILL at random moments of a run: every acknowledged message is delivered; duplicates are bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.crash import crash_run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_sigkill_at_random_moments_loses_no_acknowledged_message(tmp_path: Path, full: bool) -> None:
    report = crash_run(
        tmp_path / "data", messages=10_000 if full else 2_000, kills=5 if full else 3, spread_s=10.0 if full else 4.0
    )
    print(report.as_dict())
    assert len(report.kill_points) == report.kills
    assert report.acknowledged == report.messages
    assert report.unacknowledged_but_delivered == 0, "a batch re-sent with its idempotency keys made new messages"
    assert (report.lost, report.not_delivered_in_db, report.early) == (0, 0, 0), report
    assert report.duplicates <= report.duplicate_bound, report

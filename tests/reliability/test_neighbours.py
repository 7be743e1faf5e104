"""A hung endpoint of one tenant does not delay the others: their p99 lateness stays within 100 ms of the baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.neighbours import NOISY_CAP, neighbour_run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

P99_MARGIN_MS = 100.0


def test_a_hung_tenant_does_not_delay_the_others(tmp_path: Path, full: bool) -> None:
    report = neighbour_run(
        tmp_path / "data", quiet=1_000 if full else 300, noisy=2_000 if full else 400, window_s=10.0 if full else 3.0
    )
    print(report.as_dict())
    assert report.quiet_received == report.quiet_messages
    assert report.noisy_in_flight_when_quiet_started >= NOISY_CAP
    assert report.noisy_timeouts_during_window >= NOISY_CAP, "the noisy endpoint must be timing out meanwhile"
    assert report.with_noise["p99"] <= report.baseline["p99"] + P99_MARGIN_MS, report.as_dict()

"""A hung endpoint of one tenant does not take the delivery slots another tenant needs.

Behaviour, not timing (the lateness figures are `python -m bench.faults --only neighbours` and
`bench/noisy_neighbour.py`): the noisy tenant's endpoint hangs past the end of the test, so none of the
slots it holds ever frees. Every quiet message is then delivered by a slot the fair shares kept free,
and the noisy tenant never gets more than its share however long it waits.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.neighbours import NOISY_CAP, TENANT_CAP, admission_run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_hung_tenant_holds_only_its_share_and_the_others_are_all_delivered(tmp_path: Path, full: bool) -> None:
    report = admission_run(tmp_path / "data", quiet=1_000 if full else 200, noisy=2_000 if full else 400)
    print(report)
    assert report.noisy_arrived_before >= NOISY_CAP, "the noisy tenant filled its share before the quiet one sent"
    assert report.noisy_attempts_ended == 0, "no noisy slot freed during the test"
    assert (report.quiet_delivered, report.quiet_attempts) == (report.quiet_messages, report.quiet_messages)
    assert report.noisy_arrived_after <= TENANT_CAP, "never more than its cap, however long its messages wait"

"""Storage trouble: 503 with Retry-After, nothing partial written, and recovery without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.storage import StorageReport, disk_full_run, lock_run, tiny_disk

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def check_refused_then_recovered(report: StorageReport) -> None:
    assert report.status_during_fault == 503, report
    assert report.error_code == "storage_unavailable", report
    assert report.retry_after is not None and int(report.retry_after) >= 1, report
    assert report.rows_left_by_refused_write == 0, report
    assert report.reads_during_fault == 2, report
    assert report.status_after_recovery == 200, report
    assert report.delivered_after == report.expected_deliveries, report
    assert report.receiver_hits == report.expected_deliveries, report
    assert report.same_process, report


def test_a_locked_store_is_503_then_recovers_and_the_engine_loses_nothing(tmp_path: Path) -> None:
    report = lock_run(tmp_path / "data")
    print(report.as_dict())
    assert report.engine_write_failures_logged, "the engine's result writes must have met the lock"
    check_refused_then_recovered(report)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    try:
        with tiny_disk(tmp_path / "disk", size_mb=24) as mount_point:
            yield mount_point
    except OSError as exc:
        pytest.skip(str(exc))


def test_a_full_disk_is_503_then_recovers_and_the_engine_loses_nothing(small_disk: Path) -> None:
    report = disk_full_run(small_disk)
    print(report.as_dict())
    check_refused_then_recovered(report)

"""The receiver-outage scenario: the endpoint goes down, then comes back; the retry schedule delivers everything.

Two kinds of "down":
- `503`: the receiver answers `503` with `Retry-After: 1` (the scheduler honours it, so retries
  come every second and the test takes seconds);
- `refused`: the receiver's socket is closed (connection refused), so the first retry waits for
  the backoff schedule's first step (5 s ± 20 %).
The receiver stays down until every message has failed (twice for `503`), then comes back.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from tests.reliability.harness import Cluster, SwitchReceiver, create_app, read_db, schedule_batch, wait_for

Mode = Literal["503", "refused"]


@dataclass
class OutageReport:
    """What an outage run did and found."""

    mode: str
    messages: int
    failed_attempts_while_down: int = 0
    delivered: int = 0
    min_attempts: int = 0
    max_attempts: int = 0
    recovery_s: float = 0.0  # from the receiver coming back to the last message delivered
    down_s: float = 0.0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def outage_run(data_dir: Path, *, messages: int, mode: Mode) -> OutageReport:
    """Schedule `messages` for now while the receiver is down, bring it back, and measure the recovery."""
    started = time.monotonic()
    report = OutageReport(mode=mode, messages=messages)
    with SwitchReceiver() as receiver:
        cluster = Cluster(data_dir).start()
        try:
            _play(cluster, receiver, report)
        finally:
            cluster.kill()
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _play(cluster: Cluster, receiver: SwitchReceiver, report: OutageReport) -> None:
    with cluster.client() as client:
        app_id = create_app(client, receiver.url("/ok"))["id"]
        if report.mode == "503":
            receiver.down("1")
        else:
            receiver.refuse()
        down_at = time.monotonic()
        for start in range(0, report.messages, 100):
            count = min(100, report.messages - start)
            schedule_batch(client, [{"appId": app_id, "payload": start + i, "delaySeconds": 0} for i in range(count)])
    failures_needed = 2 if report.mode == "503" else 1
    wait_for(lambda: _failed_everywhere(cluster.data_dir, failures_needed) >= report.messages, timeout_s=60)
    report.failed_attempts_while_down = _attempt_count(cluster.data_dir)
    up_at_ms = time.time_ns() / 1e6
    report.down_s = round(time.monotonic() - down_at, 2)
    receiver.up()
    wait_for(lambda: _delivered(cluster.data_dir) >= report.messages, timeout_s=30)
    _measure(cluster.data_dir, receiver, report, up_at_ms)


def _measure(data_dir: Path, receiver: SwitchReceiver, report: OutageReport, up_at_ms: float) -> None:
    report.delivered = _delivered(data_dir)
    with read_db(data_dir) as conn:
        low, high = conn.execute("SELECT min(attempts), max(attempts) FROM messages").fetchone()
    report.min_attempts, report.max_attempts = int(low or 0), int(high or 0)
    after = [hit.at_ms for hit in receiver.hits if hit.at_ms >= up_at_ms]
    report.recovery_s = round((max(after) - up_at_ms) / 1000, 2) if after else float("inf")


def _failed_everywhere(data_dir: Path, failures: int) -> int:
    """Messages with at least `failures` recorded attempts (all failed while the receiver is down)."""
    with read_db(data_dir) as conn:
        row = conn.execute(
            "SELECT count(*) FROM (SELECT message_id FROM attempts GROUP BY message_id HAVING count(*) >= ?)",
            (failures,),
        ).fetchone()
    return int(row[0])


def _attempt_count(data_dir: Path) -> int:
    with read_db(data_dir) as conn:
        return int(conn.execute("SELECT count(*) FROM attempts").fetchone()[0])


def _delivered(data_dir: Path) -> int:
    with read_db(data_dir) as conn:
        return int(conn.execute("SELECT count(*) FROM messages WHERE status = 'delivered'").fetchone()[0])

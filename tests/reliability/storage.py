"""Storage trouble: the SQLite file locked by another process, or the disk full.

- `lock_run`: while deliveries are in flight, another connection takes the write lock
  (`BEGIN IMMEDIATE`) and holds it until the API has answered a write with 503: the engine's
  result writes fail meanwhile. After the lock is released, everything must be delivered
  exactly once, without a restart, and the refused batch must have written nothing.
- `disk_full_run`: the data directory is a small tmpfs that a filler file then fills up; a
  batch of large payloads is refused with 503 and leaves nothing behind; once the filler is
  removed the same batch succeeds, and messages due during the full disk are delivered.
"""

from __future__ import annotations

import contextlib
import errno
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.reliability.harness import Cluster, SwitchReceiver, create_app, poll, read_db, schedule_batch, wait_for


@dataclass
class StorageReport:
    """What a storage-fault run saw."""

    fault: str
    status_during_fault: int = 0
    retry_after: str | None = None
    error_code: str = ""
    answer_s: float = 0.0
    rows_left_by_refused_write: int = -1
    reads_during_fault: int = 0
    engine_write_failures_logged: bool = False
    delivered_after: int = 0
    expected_deliveries: int = 0
    receiver_hits: int = 0
    status_after_recovery: int = 0
    same_process: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _batch(app_id: str, count: int, payload: Any) -> list[dict[str, Any]]:
    return [{"appId": app_id, "payload": payload, "delaySeconds": 0} for _ in range(count)]


def _refused_write(client: httpx.Client, report: StorageReport, batch: list[dict[str, Any]]) -> None:
    started = time.monotonic()
    response = client.post("/messages/batch", json={"messages": batch}, timeout=60)
    report.answer_s = round(time.monotonic() - started, 2)
    report.status_during_fault = response.status_code
    report.retry_after = response.headers.get("Retry-After")
    report.error_code = response.json().get("error", {}).get("code", "")


def _count_of_app(data_dir: Path, app_id: str) -> int:
    with read_db(data_dir) as conn:
        return int(conn.execute("SELECT count(*) FROM messages WHERE app_id = ?", (app_id,)).fetchone()[0])


def _delivered_of_app(data_dir: Path, app_id: str) -> int:
    with read_db(data_dir) as conn:
        row = conn.execute("SELECT count(*) FROM messages WHERE app_id = ? AND status = 'delivered'", (app_id,))
        return int(row.fetchone()[0])


# ---- the SQLite file locked by another process ------------------------------------------------


@contextlib.contextmanager
def write_lock(data_dir: Path) -> Iterator[sqlite3.Connection]:
    """Hold SQLite's write lock on the server's file from another connection (as another process would)."""
    conn = sqlite3.connect(data_dir / "scheduler.db", timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def lock_run(data_dir: Path, *, in_flight: int = 20) -> StorageReport:
    """Lock the store while `in_flight` deliveries are under way, then release it; see the module docstring."""
    started = time.monotonic()
    report = StorageReport(fault="sqlite write lock held by another connection", expected_deliveries=in_flight)
    with SwitchReceiver() as receiver:
        cluster = Cluster(data_dir).start()
        pid = cluster.server.pid
        try:
            with cluster.client() as client:
                _lock_scenario(cluster, client, receiver, report)
            report.same_process = cluster.server.pid == pid and cluster.server.proc.poll() is None  # type: ignore[union-attr]
        finally:
            cluster.kill()
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _lock_scenario(cluster: Cluster, client: httpx.Client, receiver: SwitchReceiver, report: StorageReport) -> None:
    slow_app = create_app(client, receiver.url("/slow/1500"))["id"]
    refused_app = create_app(client, receiver.url("/ok"))["id"]
    first = schedule_batch(client, _batch(slow_app, report.expected_deliveries, {"k": "in flight"}))
    poll(lambda: receiver.count() >= report.expected_deliveries, 20, what="deliveries in flight")
    with write_lock(cluster.data_dir):
        _refused_write(client, report, _batch(refused_app, 10, {"k": "refused"}))
        reads = [client.get(f"/messages/{first[0]['id']}").status_code, client.get("/health").status_code]
        report.reads_during_fault = sum(1 for status in reads if status == 200)
        report.engine_write_failures_logged = wait_for(
            lambda: "delivery results" in "".join(cluster.server.output), timeout_s=20
        )
    report.rows_left_by_refused_write = _count_of_app(cluster.data_dir, refused_app)
    wait_for(lambda: _delivered_of_app(cluster.data_dir, slow_app) >= report.expected_deliveries, timeout_s=30)
    report.delivered_after = _delivered_of_app(cluster.data_dir, slow_app)
    report.receiver_hits = receiver.count("/slow/1500")
    again = client.post("/messages/batch", json={"messages": _batch(refused_app, 10, {"k": "refused"})})
    report.status_after_recovery = again.status_code


# ---- the disk full ----------------------------------------------------------------------------


@contextlib.contextmanager
def tiny_disk(where: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of `size_mb` MiB mounted at `where` (needs root); raises OSError where mounting is not allowed."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        raise OSError(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill(directory: Path) -> Path:
    """Fill the file system of `directory` until writes fail with ENOSPC; returns the filler file."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    out.write(b"\0" * chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return filler


def disk_full_run(mount_point: Path, *, due_during: int = 10) -> StorageReport:
    """Fill the disk under a running server, write, free the disk, and check the recovery."""
    started = time.monotonic()
    report = StorageReport(fault="disk full (tmpfs filled up)", expected_deliveries=due_during)
    with SwitchReceiver() as receiver:
        cluster = Cluster(mount_point / "data").start()
        pid = cluster.server.pid
        try:
            with cluster.client() as client:
                _disk_scenario(cluster, client, receiver, report)
            report.same_process = cluster.server.pid == pid and cluster.server.proc.poll() is None  # type: ignore[union-attr]
        finally:
            cluster.kill()
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _disk_scenario(cluster: Cluster, client: httpx.Client, receiver: SwitchReceiver, report: StorageReport) -> None:
    due_app = create_app(client, receiver.url("/ok"))["id"]
    refused_app = create_app(client, receiver.url("/slow/1"))["id"]
    batch = _batch(refused_app, 100, {"blob": "x" * 20_000})
    due = [{"appId": due_app, "payload": i, "delaySeconds": 1.5} for i in range(report.expected_deliveries)]
    schedule_batch(client, due)
    filler = fill(cluster.data_dir.parent)
    _refused_write(client, report, batch)
    reads = [client.get("/messages", params={"appId": due_app}).status_code, client.get("/health").status_code]
    report.reads_during_fault = sum(1 for status in reads if status == 200)
    report.rows_left_by_refused_write = _count_of_app(cluster.data_dir, refused_app)
    time.sleep(2.0)  # fault injection: keep the disk full past the due time of the messages above
    filler.unlink()
    again = client.post("/messages/batch", json={"messages": batch})
    report.status_after_recovery = again.status_code
    wait_for(lambda: _delivered_of_app(cluster.data_dir, due_app) >= report.expected_deliveries, timeout_s=30)
    report.delivered_after = _delivered_of_app(cluster.data_dir, due_app)
    report.receiver_hits = receiver.count("/ok")

"""The SIGKILL scenario: kill the server at random moments of a run, restart it, and account for every message.

The first kill lands while a batch request is in flight (the batch is then sent again with the
same idempotency keys, so an acknowledged id is never lost nor doubled by the client's retry);
the others land when the receiver has seen a random share of the messages, that is while
deliveries are in flight. After each kill the SQLite file is read while the server is dead:
the messages in `delivering` are exactly those whose attempt may have reached the receiver
without its result being written, so their total bounds the duplicates the receiver may see.
"""

from __future__ import annotations

import collections
import contextlib
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from chalicelib.domain.times import format_ms
from tests.reliability.harness import (
    Cluster,
    SwitchReceiver,
    count_status,
    create_app,
    poll,
    read_db,
    schedule_batch,
    wait_for,
)

BATCH = 100


@dataclass
class CrashReport:
    """What a crash run did and found."""

    messages: int
    kills: int
    seed: int
    acknowledged: int = 0
    delivered_unique: int = 0
    lost: int = 0
    not_delivered_in_db: int = 0
    duplicates: int = 0
    in_flight_at_kills: list[int] = field(default_factory=list)
    kill_points: list[str] = field(default_factory=list)
    early: int = 0
    unacknowledged_but_delivered: int = 0
    seconds: float = 0.0

    @property
    def duplicate_bound(self) -> int:
        """Messages in flight (leased) at the kills: the most duplicates there can be."""
        return sum(self.in_flight_at_kills)

    def as_dict(self) -> dict[str, Any]:
        """The figures, with the bound, for a results file."""
        return {**asdict(self), "duplicate_bound": self.duplicate_bound}


@dataclass
class _Run:
    cluster: Cluster
    receiver: SwitchReceiver
    report: CrashReport
    rng: random.Random
    acked: set[str] = field(default_factory=set)

    def restart_after_kill(self, where: str) -> None:
        self.cluster.kill()
        self.report.in_flight_at_kills.append(count_status(self.cluster.data_dir, "delivering"))
        self.report.kill_points.append(where)
        self.cluster.start()


def crash_run(data_dir: Path, *, messages: int, kills: int, spread_s: float, seed: int = 5) -> CrashReport:
    """Schedule `messages` due over `spread_s` seconds, SIGKILL the server `kills` times, and check the outcome."""
    started = time.monotonic()
    report = CrashReport(messages=messages, kills=kills, seed=seed)
    with SwitchReceiver() as receiver:
        cluster = Cluster(data_dir).start()
        run = _Run(cluster, receiver, report, random.Random(seed))
        try:
            _play(run, messages, kills, spread_s)
            _account(run, timeout_s=60 + messages / 100)
        finally:
            cluster.kill()
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _play(run: _Run, messages: int, kills: int, spread_s: float) -> None:
    with run.cluster.client() as client:
        app_id = create_app(client, run.receiver.url("/slow/20"))["id"]
    first_due = time.time_ns() // 1_000_000 + 1_000
    bodies = [
        {
            "appId": app_id,
            "payload": {"i": i},
            "sendAt": format_ms(first_due + round(i * spread_s * 1000 / messages)),
            "idempotencyKey": f"crash-{i}",
        }
        for i in range(messages)
    ]
    batches = [bodies[start : start + BATCH] for start in range(0, messages, BATCH)]
    _ingest(run, batches, kill_at=run.rng.randrange(len(batches)) if kills else -1)
    shares = sorted(run.rng.uniform(0.15, 0.9) for _ in range(kills - 1))
    for share in shares:
        threshold = max(1, int(share * messages))
        poll(lambda t=threshold: run.receiver.count() >= t, timeout_s=60, interval_s=0.005, what=f"{threshold} hits")
        run.restart_after_kill(f"delivery: after {run.receiver.count()} hits (target {threshold})")


def _ingest(run: _Run, batches: list[list[dict[str, Any]]], *, kill_at: int) -> None:
    client = run.cluster.client()
    try:
        for index, batch in enumerate(batches):
            if index == kill_at:
                _kill_during_request(run, client, batch)
                client.close()
                client = run.cluster.client()
            run.acked.update(item["id"] for item in schedule_batch(client, batch))
    finally:
        client.close()
    run.report.acknowledged = len(run.acked)


def _kill_during_request(run: _Run, client: httpx.Client, batch: list[dict[str, Any]]) -> None:
    """Send `batch` from a thread and SIGKILL the server a random few ms later (the answer may or may not come)."""
    answered: list[list[str]] = []

    def send() -> None:
        with contextlib.suppress(httpx.HTTPError, AssertionError):  # the kill may cut the answer off
            answered.append([item["id"] for item in schedule_batch(client, batch)])

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(run.rng.uniform(0.0, 0.03))  # fault injection: when to pull the plug, not a wait for an outcome
    run.restart_after_kill("ingest: batch request in flight")
    sender.join(30)
    for ids in answered:
        run.acked.update(ids)


def _account(run: _Run, timeout_s: float) -> None:
    report = run.report
    wait_for(lambda: run.acked <= {hit.message_id for hit in run.receiver.hits}, timeout_s)
    hits = run.receiver.hits
    per_message = collections.Counter(hit.message_id for hit in hits)
    report.delivered_unique = len(per_message)
    report.lost = len(run.acked - per_message.keys())
    report.duplicates = sum(count - 1 for count in per_message.values())
    report.early = sum(1 for hit in hits if hit.late_ms < 0)
    report.unacknowledged_but_delivered = len(per_message.keys() - run.acked)
    wait_for(lambda: not _undelivered(run), timeout_s=30)
    report.not_delivered_in_db = len(_undelivered(run))


def _undelivered(run: _Run) -> set[str]:
    with read_db(run.cluster.data_dir) as conn:
        done = {row[0] for row in conn.execute("SELECT id FROM messages WHERE status = 'delivered'")}
    return run.acked - done

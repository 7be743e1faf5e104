"""Recurring runs across SIGKILL: a schedule running every second on a real server that is killed at
random moments and restarted on the same data directory. Each run time gets exactly one message (its
idempotency key is the schedule and the run instant, written in one transaction with the schedule's
advance), and with `missedRuns: all` the run times have no gap: nothing was lost in the downtime and
nothing was created twice."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.harness import read_db
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess, wait_until

pytestmark = pytest.mark.e2e
KILLS = 3


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def test_runs_survive_sigkill_once_each_without_gaps(tmp_path: Path, receiver: Receiver) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir).start()
    try:
        with server.client() as api:
            app = api.post("/apps", json={"name": "runs", "url": receiver.url("/ok")}).json()["id"]
            body = {"appId": app, "payload": {"tick": True}, "every": "1s", "missedRuns": "all"}
            schedule = api.post("/schedules", json=body).json()["id"]
        for _ in range(KILLS):
            seen = len(receiver.records)
            wait_until(lambda seen=seen: len(receiver.records) >= seen + random.randint(1, 3), timeout_s=60)
            time.sleep(random.random() * 0.5)
            server.kill()
            server.start()
        with server.client() as api:
            wait_until(lambda: len(receiver.records) >= 10, timeout_s=60)
            assert api.post(f"/schedules/{schedule}/pause").status_code == 200
    finally:
        server.kill()
    with read_db(data_dir) as conn:
        keys = [
            row[0] for row in conn.execute("SELECT idempotency_key FROM messages WHERE schedule_id = ?", (schedule,))
        ]
    assert len(keys) == len(set(keys)), "a run time got two messages"
    instants = sorted(int(key.rsplit(":", 1)[1]) for key in keys)
    assert len(instants) >= 10
    assert all(later - earlier == 1000 for earlier, later in itertools.pairwise(instants)), instants

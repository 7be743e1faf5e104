"""The CLI in a new user's first hour: `reschedule`, what happens next in `show` and `tail`, attempt
counts that stay true after a redrive, and `tail` / `send --file` outliving a server restart."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from scheduler_cli.reconnect import Reconnect
from scheduler_client import SchedulerAPIError, SchedulerClient, SchedulerConnectionError
from tests.cli.conftest import make_app
from tests.support.cli import Run
from tests.support.receiver import Receiver
from tests.support.server import ADMIN_KEY, ROOT, ServerProcess, wait_until

pytestmark = pytest.mark.e2e


def detail(out: str, key: str) -> str:
    match = re.search(rf"^{key} +(.*)$", out, re.M)
    assert match, out
    return match.group(1)


def test_reschedule_by_in_at_and_data(cli: Run) -> None:
    app = make_app(cli)
    sent = cli("send", "--app", app, "--in", "1h", "--data", '{"v": 1}', "--json").json()
    moved = cli("reschedule", sent["id"], "--in", "2h", "--json").json()
    assert moved["sendAt"] > sent["sendAt"] and moved["etag"] != sent["etag"]
    at = cli("reschedule", sent["id"], "--at", "2031-01-01T00:00:00Z")
    assert at.out == f"{sent['id']} scheduled for 2031-01-01T00:00:00.000Z\n"
    cli("reschedule", sent["id"], "--data", '{"v": 2}')
    assert cli("show", sent["id"], "--json").json()["payload"] == {"v": 2}
    stale = cli("reschedule", sent["id"], "--in", "5m", "--if-match", moved["etag"])
    assert stale.code == 1 and stale.err.startswith("error: etag_mismatch: ")
    nothing = cli("reschedule", sent["id"])
    assert nothing.code == 2 and "needs --in or --at" in nothing.err
    past = cli("reschedule", sent["id"], "--at", "2016-01-01T00:00:00Z")
    assert past.code == 1 and "2016-01-01T00:00:00.000Z is" in past.err and "in the past" in past.err


def test_show_and_ls_say_what_happens_next_and_count_attempts_per_round(cli: Run, receiver: Receiver) -> None:
    app = make_app(cli, receiver.url("/status/500"), "--max-attempts", "1")
    message = cli("send", "--app", app, "--in", "0s", "--json").json()["id"]
    wait_until(lambda: cli("show", message, "--json").json()["status"] == "failed")
    shown = cli("show", message).out
    assert detail(shown, "attempts") == "1/1"
    assert (
        detail(shown, "next")
        == f"failed: gave up after 1 attempt (maxAttempts 1); `scheduler redrive {message}` tries again"
    )
    cli("redrive", message)
    wait_until(lambda: cli("show", message, "--json").json()["attempts"] == 2)
    wait_until(lambda: cli("show", message, "--json").json()["status"] == "failed")
    again = cli("show", message).out
    assert detail(again, "attempts") == "1/1 (2 in all)"  # was "2/1"
    assert "1/1 (2 in all)" in cli("ls").out
    as_json = cli("show", message, "--json").json()
    assert (as_json["attempts"], as_json["roundAttempts"], as_json["maxAttempts"]) == (2, 1, 1)
    waiting = cli("send", "--app", app, "--in", "1h", "--json").json()["id"]
    assert detail(cli("show", waiting).out, "next").startswith("first attempt at ")
    cli("cancel", waiting)
    assert detail(cli("show", waiting).out, "next") == f"cancelled; `scheduler redrive {waiting}` schedules it again"


def test_tail_says_retry_at_or_gave_up(cli: Run, server: ServerProcess, receiver: Receiver) -> None:
    retrying = make_app(cli, receiver.url("/status/503?retry_after=600"), "--max-attempts", "2")
    final = make_app(cli, receiver.url("/status/500"), "--max-attempts", "1")
    with SchedulerClient(server.url, os.environ["SCHEDULER_API_KEY"], trust_env=False) as client:
        after = client.attempts_end_cursor()
    first = cli("send", "--app", retrying, "--in", "0s", "--json").json()["id"]
    second = cli("send", "--app", final, "--in", "0s", "--json").json()["id"]
    live = cli("tail", "--after", after, "--count", "2", "--interval", "0.05", "--until-idle", "20")
    assert live.code == 0, live.err
    lines = {line.split()[1]: line for line in live.out.splitlines()}
    assert re.fullmatch(rf"\S+Z  {first}  #1  503  \d+ms  failed: http_status: 503; retry at \S+Z", lines[first])
    assert re.fullmatch(
        rf"\S+Z  {second}  #1  500  \d+ms  failed: http_status: 500; gave up after 1 attempt \(maxAttempts 1\)",
        lines[second],
    )


def test_usage_on_day_one_is_no_wall_of_zeros(cli: Run) -> None:
    fresh = cli("usage")
    assert fresh.code == 0
    assert re.fullmatch(r"no activity from \d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2}\n", fresh.out)
    assert fresh.err == "plan unlimited: no rate limit, no daily quota\n"


def test_plan_text_names_the_limits() -> None:
    from scheduler_cli.outcome import plan_text
    from scheduler_client.models import PlanOut

    free = PlanOut(
        name="free",
        ratePerSecond=10,
        burst=20,
        dailyQuota=1000,
        maxApps=10,
        maxHeadersPerApp=10,
        maxHeaderBytesPerApp=4096,
    )
    assert plan_text(free) == "plan free: 10 requests/s (burst 20), 1,000 messages a day"


def test_reconnect_backs_off_says_so_and_passes_other_errors_through() -> None:
    slept: list[float] = []
    said = io.StringIO()
    failures: list[Exception] = [
        SchedulerConnectionError("http://x", "connection refused"),
        SchedulerAPIError(503, "storage_unavailable", "busy"),
        SchedulerConnectionError("http://x", "connection refused"),
    ]

    def flaky() -> str:
        if failures:
            raise failures.pop(0)
        return "page"

    assert Reconnect("tail", sleep=slept.append, stream=said).call(flaky) == "page"
    assert slept == [1.0, 2.0, 4.0]
    lines = said.getvalue().splitlines()
    assert lines[0] == "scheduler: tail: lost the server (connection refused); trying again in 1 s (Ctrl-C stops)"
    assert lines[1].startswith("scheduler: tail: lost the server (503 storage_unavailable)")
    assert lines[-1] == "scheduler: tail: reconnected"

    def refused() -> str:
        raise SchedulerAPIError(401, "unauthorized", "no")

    with pytest.raises(SchedulerAPIError):
        Reconnect("tail", sleep=slept.append, stream=said).call(refused)
    assert len(slept) == 3  # an answer from the server is not a lost connection


def test_bulk_send_resends_a_batch_whose_answer_was_lost_without_scheduling_twice(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(cli)
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps({"payload": i}) for i in range(150)) + "\n")
    original = SchedulerClient.run
    lost: list[str] = []

    def answer_lost_once(self: SchedulerClient, call: Any) -> Any:
        result = original(self, call)  # the server did schedule the batch...
        if call.path == "/messages/batch" and not lost:
            lost.append(call.path)
            raise SchedulerConnectionError(self.connection.base_url, "connection reset")  # ...but no answer came
        return result

    monkeypatch.setattr(SchedulerClient, "run", answer_lost_once)
    sent = cli("send", "--file", str(path), "--app", app, "--in", "1h")
    assert sent.code == 0, sent.err
    assert "send: lost the server (connection reset); trying again in 1 s" in sent.err
    assert "send: reconnected" in sent.err
    assert sent.err.endswith("150 of 150 messages scheduled, 0 failed\n")
    assert len(cli("ls", "--all", "--app", app, "--json").json()) == 150  # the resent batch replayed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_tail_outlives_a_server_restart(tmp_path: Path, receiver: Receiver) -> None:
    port = _free_port()
    first = ServerProcess(tmp_path / "data", port=port).start()
    env = {**os.environ, "PORT": str(port), "SCHEDULER_API_KEY": ADMIN_KEY, "SCHEDULER_CONFIG": str(tmp_path / "c")}
    env.pop("SCHEDULER_URL", None)  # found through PORT, as the README says
    tail = subprocess.Popen(
        [sys.executable, "-m", "scheduler_cli.main", "tail", "--count", "2", "--interval", "0.05"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    second: ServerProcess | None = None
    try:
        with first.client() as http:
            app = http.post("/apps", json={"name": "r", "url": receiver.url("/ok")}).json()["id"]
            wait_until(lambda: _tail_is_following(first))
            http.post("/messages", json={"appId": app, "payload": 1, "delaySeconds": 0})
        wait_until(lambda: len(receiver.records) >= 1)
        first.kill()
        said: list[str] = []
        assert tail.stderr is not None
        threading.Thread(target=lambda: said.extend(tail.stderr or ()), daemon=True).start()
        wait_until(lambda: any("lost the server" in line for line in said), timeout_s=60)  # down for a while
        second = ServerProcess(tmp_path / "data", port=port).start()
        with second.client() as http:
            http.post("/messages", json={"appId": app, "payload": 2, "delaySeconds": 0})
        out = tail.stdout.read() if tail.stdout else ""
        tail.wait(60)
        err = "".join(said)
    finally:
        tail.kill()
        for process in (first, second):
            if process is not None:
                process.kill()
    assert tail.returncode == 0, err
    assert len(out.splitlines()) == 2 and all(line.endswith("delivered") for line in out.splitlines())
    assert "scheduler: tail: lost the server (" in err and "scheduler: tail: reconnected" in err


def _tail_is_following(server: ServerProcess) -> bool:
    return any("GET /attempts 200" in line for line in server.output)

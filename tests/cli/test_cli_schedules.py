"""`scheduler schedules create|list|get|update|delete|pause|resume` against a real server, a run delivered
to a loopback receiver, and `scheduler ls --schedule` listing the runs."""

from __future__ import annotations

import re

import pytest

from tests.cli.conftest import make_app
from tests.support.cli import Run
from tests.support.receiver import Receiver
from tests.support.server import wait_until

pytestmark = pytest.mark.e2e
SCHEDULE_ID = re.compile(r"sch_[0-9A-Z]{26}")


def test_schedule_lifecycle(cli: Run) -> None:
    app = make_app(cli)
    made = cli("schedules", "create", "--app", app, "--cron", "30 2 * * *", "--timezone", "Europe/Berlin",
               "--missed", "once", "--data", '{"job": "nightly"}', "--json").json()  # fmt: skip
    assert (made["cron"], made["timezone"], made["missedRuns"], made["state"]) == (
        "30 2 * * *",
        "Europe/Berlin",
        "once",
        "active",
    )
    quiet = cli("schedules", "create", "--app", app, "--every", "1h30m", "-q")
    assert quiet.code == 0 and SCHEDULE_ID.fullmatch(quiet.out.strip())
    listed = cli("schedules", "list")
    assert listed.code == 0 and made["id"] in listed.out and "cron 30 2 * * *" in listed.out
    shown = cli("schedules", "get", made["id"])
    assert shown.code == 0 and '"job": "nightly"' in shown.out and "Europe/Berlin" in shown.out
    changed = cli("schedules", "update", made["id"], "--every", "2h", "--if-match", made["etag"], "--json").json()
    assert (changed["cron"], changed["every"]) == (None, "2h")
    stale = cli("schedules", "update", made["id"], "--every", "3h", "--if-match", made["etag"])
    assert stale.code == 1 and stale.err.startswith("error: etag_mismatch:")
    assert cli("schedules", "pause", made["id"], "--json").json()["state"] == "paused"
    assert cli("schedules", "resume", made["id"], "--json").json()["state"] == "active"
    deleted = cli("schedules", "delete", made["id"])
    assert deleted.code == 0 and deleted.out == f"deleted {made['id']}\n"
    assert cli("schedules", "get", made["id"]).code == 1


def test_schedule_errors_are_clear(cli: Run) -> None:
    app = make_app(cli)
    neither = cli("schedules", "create", "--app", app)
    assert neither.code == 2 and "--cron or --every" in neither.err
    both = cli("schedules", "create", "--app", app, "--cron", "* * * * *", "--every", "1m")
    assert both.code == 2
    bad = cli("schedules", "create", "--app", app, "--cron", "0 9 * *")
    assert bad.code == 1 and bad.err.startswith("error: validation_error: cron must have 5 fields")
    zone = cli("schedules", "create", "--app", app, "--every", "1h", "--timezone", "Mars/Base")
    assert zone.code == 1 and "unknown time zone" in zone.err
    nothing = cli("schedules", "update", "sch_x")
    assert nothing.code == 2


def test_a_run_is_delivered_and_listed(cli: Run, receiver: Receiver) -> None:
    app = make_app(cli, receiver.url("/schedule-runs"))
    made = cli("schedules", "create", "--app", app, "--every", "1s", "--data", '{"tick": 1}', "--json").json()

    def runs_received() -> list[bytes]:
        return [r.body for r in receiver.records if r.path == "/schedule-runs"]

    wait_until(lambda: len(runs_received()) >= 2, timeout_s=30)
    cli("schedules", "pause", made["id"])
    runs = cli("ls", "--schedule", made["id"], "--all", "--json").json()
    assert all(run["scheduleId"] == made["id"] for run in runs)
    assert len([run for run in runs if run["status"] == "delivered"]) >= 2
    assert set(runs_received()) == {b'{"tick":1}'}

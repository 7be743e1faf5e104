"""`scheduler send|ls|show|cancel|redrive|attempts|usage|tail` against a real server, with deliveries
to a loopback receiver; bulk `send --file` through the batch route."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from scheduler_client import SchedulerClient
from tests.cli.conftest import make_app
from tests.support.cli import Run
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess, wait_until

pytestmark = pytest.mark.e2e
MESSAGE_ID = re.compile(r"msg_[0-9A-Z]{26}")


def test_send_one_message(cli: Run, tmp_path: Path) -> None:
    app = make_app(cli)
    sent = cli("send", "--app", app, "--in", "1h30m", "--data", '{"order": 1}')
    assert sent.code == 0 and re.fullmatch(r"msg_\w+ scheduled for \S+Z\n", sent.out)
    at = cli("send", "--app", app, "--at", "2030-01-01T10:00:00+01:00", "--json").json()
    assert at["sendAt"] == "2030-01-01T09:00:00.000Z"
    payload_file = tmp_path / "payload.json"
    payload_file.write_text('{"from": "file"}')
    from_file = cli("send", "--app", app, "--in", "5m", "--data", f"@{payload_file}", "--json").json()
    from_stdin = cli("send", "--app", app, "--in", "5m", "--data", "-", "--json", stdin="[1, 2]").json()
    defaults = cli("send", "--app", app, "--in", "5m", "--max-attempts", "2", "--not-after", "2031-01-01T00:00:00Z",
                   "--json").json()  # fmt: skip
    assert (defaults["maxAttempts"], defaults["notAfter"]) == (2, "2031-01-01T00:00:00.000Z")
    payloads = {
        m: cli("show", m, "--json").json()["payload"] for m in (from_file["id"], from_stdin["id"], defaults["id"])
    }
    assert list(payloads.values()) == [{"from": "file"}, [1, 2], {}]


def test_send_errors(cli: Run) -> None:
    app = make_app(cli)
    first = cli("send", "--app", app, "--in", "1h", "--data", "1", "--idempotency-key", "k-1", "--json").json()
    again = cli("send", "--app", app, "--in", "1h", "--data", "1", "--idempotency-key", "k-1", "--json").json()
    assert again["id"] == first["id"]
    conflict = cli("send", "--app", app, "--in", "1h", "--data", "2", "--idempotency-key", "k-1")
    assert conflict.code == 1 and conflict.err.startswith("error: idempotency_conflict: this idempotency key")
    naive = cli("send", "--app", app, "--at", "2030-01-01T00:00:00")
    assert naive.code == 1
    assert naive.err == (
        "error: validation_error: sendAt must be an RFC 3339 time with an offset, like 2026-12-01T10:00:00Z\n"
    )
    missing = cli("send", "--app", "app_nope", "--in", "1m")
    assert (missing.code, missing.err) == (1, "error: not_found: no app app_nope (field: appId)\n")


def test_ls_show_cancel_redrive(cli: Run) -> None:
    app = make_app(cli)
    ids = [
        cli("send", "--app", app, "--in", f"{h}h", "--data", f'{{"n": {h}}}', "--json").json()["id"] for h in (1, 2, 3)
    ]
    listed = cli("ls")
    assert listed.out.splitlines()[0].split() == ["ID", "APP", "STATUS", "SEND_AT", "ATTEMPTS", "LATE_MS", "REASON"]
    assert MESSAGE_ID.findall(listed.out) == ids and "0/8" in listed.out
    limited = cli("ls", "--limit", "2")
    assert MESSAGE_ID.findall(limited.out) == ids[:2] and "more than 2" in limited.err
    assert [m["id"] for m in cli("ls", "--all", "--app", app, "--json").json()] == ids
    shown = cli("show", ids[0])
    assert re.search(rf"^id +{ids[0]}$", shown.out, re.M) and 'payload:\n{\n  "n": 1\n}\n' in shown.out
    assert re.search(r"^next +first attempt at \S+Z$", shown.out, re.M)
    assert cli("cancel", ids[0]).out == f"{ids[0]} cancelled\n"
    twice = cli("cancel", ids[0])
    assert twice.code == 1 and twice.err.startswith("error: wrong_state: ")
    assert [m["id"] for m in cli("ls", "--status", "cancelled", "--json").json()] == [ids[0]]
    second_at = cli("show", ids[1], "--json").json()["sendAt"]
    assert [m["id"] for m in cli("ls", "--since", "1m", "--json").json()] == ids
    assert [m["id"] for m in cli("ls", "--since", second_at, "--json").json()] == ids[1:]
    assert [m["id"] for m in cli("ls", "--until", second_at, "--json").json()] == ids[:2]
    redriven = cli("redrive", ids[0], "--in", "4h")
    assert re.fullmatch(rf"{ids[0]} scheduled for \S+\n", redriven.out)
    cli("cancel", ids[0])
    assert (
        cli("redrive", ids[0], "--at", "2030-01-01T00:00:00Z", "--json").json()["sendAt"] == "2030-01-01T00:00:00.000Z"
    )
    not_failed = cli("redrive", ids[1])
    assert not_failed.code == 1 and not_failed.err.startswith("error: wrong_state: ")
    unknown = cli("show", "msg_unknown")
    assert (unknown.code, unknown.err, unknown.out) == (1, "error: not_found: no message msg_unknown\n", "")


def test_attempts_and_usage(cli: Run, receiver: Receiver) -> None:
    app = make_app(cli, receiver.url("/ok"))
    message = cli("send", "--app", app, "--in", "0s", "--data", '{"now": true}', "--json").json()["id"]
    wait_until(lambda: cli("show", message, "--json").json()["status"] == "delivered")
    table = cli("attempts", message)
    assert table.out.splitlines()[0].split() == ["N", "STARTED", "STATUS", "DURATION_MS", "ERROR"]
    assert table.out.splitlines()[1].split()[0::2] == ["1", "200", "-"]
    [attempt] = cli("attempts", message, "--json").json()
    assert (attempt["n"], attempt["statusCode"], attempt["messageId"]) == (1, 200, message)
    days = cli("usage", "--json").json()
    assert len(days) == 1 and (days[-1]["scheduled"], days[-1]["delivered"], days[-1]["attempts"]) == (1, 1, 1)
    today = days[-1]["date"]
    usage = cli("usage", "--from", today, "--to", today)
    assert usage.out.splitlines() == [
        "DATE        SCHEDULED  DELIVERED  FAILED  ATTEMPTS",
        f"{today}  1          1          0       1",
    ]
    assert usage.err == "plan unlimited: no rate limit, no daily quota\n"
    bad = cli("usage", "--from", "yesterday")
    assert bad.code == 1 and bad.err.startswith("error: validation_error: ")


def test_bulk_send_from_a_file(cli: Run, tmp_path: Path) -> None:
    app = make_app(cli)
    lines = [json.dumps({"payload": {"i": i}}) for i in range(249)]
    lines.insert(120, json.dumps({"appId": "app_nope", "payload": 1}))
    path = tmp_path / "messages.jsonl"
    path.write_text("\n".join(lines) + "\n")
    human = cli("send", "--file", str(path), "--app", app, "--in", "2h")
    assert human.code == 1
    assert human.err == "249 of 250 messages scheduled, 1 failed\n"  # no progress line: stderr is not a TTY
    assert human.out.splitlines() == ["LINE  CODE       MESSAGE", "121   not_found  no app app_nope"]
    assert len(cli("ls", "--all", "--json").json()) == 249
    stdin = "\n".join(json.dumps({"payload": i, "sendAt": "2030-01-01T00:00:00Z"}) for i in range(3))
    scripted = cli("send", "--file", "-", "--app", app, "--json", stdin=stdin)
    results = json.loads(scripted.out)
    assert scripted.code == 0 and scripted.err == "3 of 3 messages scheduled, 0 failed\n"
    assert [r["line"] for r in results] == [1, 2, 3]
    assert all(r["message"]["sendAt"] == "2030-01-01T00:00:00.000Z" for r in results)
    rejected = cli(
        "send", "--file", "-", stdin='{"payload": 1}\n', env={"SCHEDULER_API_KEY": "sk_unknown_0123456789abcdef"}
    )
    assert rejected.code == 1
    assert (
        rejected.err
        == "0 of 1 messages scheduled, 0 failed, 1 not sent\nerror: unauthorized: unknown or revoked API key\n"
    )


def test_tail_follows_deliveries_and_failures(cli: Run, server: ServerProcess, receiver: Receiver) -> None:
    ok = make_app(cli, receiver.url("/ok"))
    broken = make_app(cli, receiver.url("/status/500"), "--max-attempts", "1")
    assert cli("tail", "--until-idle", "0", "--json").out == ""  # nothing yet: returns at once
    with SchedulerClient(server.url, os.environ["SCHEDULER_API_KEY"], trust_env=False) as client:
        after = client.attempts_end_cursor()  # so that the run below cannot miss what is delivered before it polls
    delivered = cli("send", "--app", ok, "--in", "0s", "--json").json()["id"]
    failed = cli("send", "--app", broken, "--in", "0s", "--json").json()["id"]
    live = cli("tail", "--after", after, "--count", "2", "--interval", "0.05", "--until-idle", "20")
    assert live.code == 0, live.err
    lines = sorted(live.out.splitlines(), key=lambda line: "failed" in line)
    assert re.fullmatch(rf"\S+Z  {delivered}  #1  200  \d+ms  delivered", lines[0])
    assert re.fullmatch(rf"\S+Z  {failed}  #1  500  \d+ms  failed: .*500.*", lines[1])
    as_json = [
        json.loads(line) for line in cli("tail", "--from-start", "--until-idle", "0.2", "--json").out.splitlines()
    ]
    assert {(a["messageId"], a["statusCode"]) for a in as_json} == {(delivered, 200), (failed, 500)}
    only_ok = cli("tail", "--from-start", "--app", ok, "--count", "1", "--json").out
    assert json.loads(only_ok)["messageId"] == delivered
    assert cli("tail", "--until-idle", "0.2", "--interval", "0.05").out == ""  # history is skipped by default

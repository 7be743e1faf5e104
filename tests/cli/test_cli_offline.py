"""The `scheduler` CLI without a server: parsing, formatting, progress, batching and exit codes of
usage errors (2) and an unreachable server (1, one clear line, no traceback)."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler_cli.admin import parse_headers
from scheduler_cli.bulk import MAX_BATCH_BYTES, Line, batches, parse_lines
from scheduler_cli.output import Progress, table
from scheduler_cli.runtime import UsageError
from scheduler_cli.timeparse import parse_duration, since
from tests.support.cli import Run
from tests.support.server import ROOT

REFUSED = "http://127.0.0.1:9"


@pytest.fixture
def cli(run_cli: Run) -> Run:
    return run_cli


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("1d2h3m4s", 93784), ("0s", 0)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["90", "", "1m1h", "5 m", "-5s", "1.5h", "s", "1w"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="invalid duration"):
        parse_duration(text)


def test_since_takes_a_duration_ago_or_passes_a_time_through() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    assert since("1h30m", now=now) == "2026-01-02T01:34:05.678Z"
    assert since("2026-01-01T00:00:00+01:00", now=now) == "2026-01-01T00:00:00+01:00"


def test_tables_align_columns_and_mark_empty_cells() -> None:
    text = table(["ID", "NAME", "SCOPES"], [["key_1", None, ["read", "send"]], ["key_22", "ci", []]])
    assert text.splitlines() == ["ID      NAME  SCOPES", "key_1   -     read,send", "key_22  ci    -"]


def test_headers_option() -> None:
    assert parse_headers(["x-a=1", "x-b=a=b", "x-c="]) == {"x-a": "1", "x-b": "a=b", "x-c": ""}
    with pytest.raises(UsageError, match="NAME=VALUE"):
        parse_headers(["x-a"])


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_one_line_on_a_terminal_only() -> None:
    terminal = Terminal()
    progress = Progress(200, enabled=True, stream=terminal)
    progress.update(100, 1)
    progress.update(200, 1)
    progress.finish()
    assert terminal.getvalue().count("\r") == 2 and terminal.getvalue().endswith("200/200 sent, 1 failed\n")
    for stream, enabled in ((io.StringIO(), True), (Terminal(), False)):  # a pipe; or --json
        quiet = Progress(200, enabled=enabled, stream=stream)
        quiet.update(200, 0)
        quiet.finish()
        assert stream.getvalue() == ""


def test_batches_hold_at_most_100_messages_and_4_mib() -> None:
    small = [Line(n, {}, 10) for n in range(250)]
    assert [len(b) for b in batches(small)] == [100, 100, 50]
    big = [Line(n, {}, MAX_BATCH_BYTES // 3) for n in range(7)]
    assert [len(b) for b in batches(big)] == [3, 3, 1]


def test_lines_get_the_defaults_they_lack() -> None:
    texts = [
        '{"payload": 1}',
        "",
        '{"payload": 2, "appId": "app_b", "sendAt": "2030-01-01T00:00:00Z"}',
        '{"payload": 3, "delaySeconds": 5, "maxAttempts": 1}',
    ]
    lines = parse_lines(texts, {"appId": "app_a", "delaySeconds": 60, "maxAttempts": 3})
    assert [line.number for line in lines] == [1, 3, 4]
    assert [line.body for line in lines] == [
        {"payload": 1, "appId": "app_a", "delaySeconds": 60, "maxAttempts": 3},
        {"payload": 2, "appId": "app_b", "sendAt": "2030-01-01T00:00:00Z", "maxAttempts": 3},
        {"payload": 3, "delaySeconds": 5, "maxAttempts": 1, "appId": "app_a"},
    ]


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["send", "--app", "app_1"], None, "send needs --app and one of --at or --in"),
        (["send", "--in", "5m"], None, "send needs --app"),
        (["send", "--app", "a", "--in", "5m", "--data", "{nope"], None, "--data is not valid JSON"),
        (["send", "--app", "a", "--in", "5m", "--data", "@/no/such/file"], None, "cannot read --data file"),
        (["send", "--app", "a", "--in", "5m", "--data", "-"], "[1,", "stdin is not valid JSON"),
        (["send", "--file", "/no/such.jsonl"], None, "cannot read /no/such.jsonl"),
        (["send", "--file", "-"], '{"payload": 1}\nnot json\n', "line 2 is not valid JSON"),
        (["send", "--file", "-"], "[1]\n", "line 1 must be a JSON object"),
        (["send", "--file", "-"], "\n\n", "the file holds no messages"),
        (["send", "--file", "-", "--data", "1"], '{"payload": 1}\n', "go with a single message"),
        (["apps", "create", "--name", "a", "--url", "https://x", "--header", "bad"], None, "NAME=VALUE"),
        (["ls", "--limit", "0"], None, "--limit must be at least 1"),
        (["tail", "--count", "0"], None, "--count must be at least 1"),
        (["tail", "--interval", "0"], None, "--interval must be positive"),
    ],
)
def test_usage_errors_exit_2(cli: Run, argv: list[str], stdin: str | None, message: str) -> None:
    result = cli(*argv, env={"SCHEDULER_API_KEY": "sk_x", "SCHEDULER_URL": REFUSED}, stdin=stdin)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: ") and message in result.err


@pytest.mark.parametrize(
    "argv",
    [["send", "--app", "a", "--in", "90"], ["send", "--at", "x", "--in", "5m"], ["ls", "--status", "done"], ["keys"]],
)
def test_argparse_errors_exit_2(cli: Run, argv: list[str]) -> None:
    result = cli(*argv)
    assert result.code == 2 and "usage: scheduler" in result.err


def test_missing_keys_and_unknown_profiles_exit_2(cli: Run, tmp_path: Path) -> None:
    result = cli("ls")
    assert (result.code, result.err) == (
        2,
        "error: no API key: set SCHEDULER_API_KEY, pass --api-key, or select a profile with --profile\n",
    )
    result = cli("tenants", "create", "--name", "x")
    assert (result.code, result.err) == (
        2,
        "error: no operator key: set SCHEDULER_OPERATOR_KEY or pass --operator-key\n",
    )
    result = cli("ls", "--profile", "nope")
    assert result.code == 2 and result.err.startswith("error: no profile 'nope' in ")


def test_an_unreachable_server_is_one_clear_line(cli: Run) -> None:
    result = cli("show", "msg_1", "--api-url", REFUSED, "--api-key", "sk_x")
    assert result.code == 1
    assert result.err == f"error: cannot reach {REFUSED}: connection refused (is the server running?)\n"


def test_the_console_script_prints_no_traceback(tmp_path: Path) -> None:
    env = {"SCHEDULER_URL": REFUSED, "SCHEDULER_API_KEY": "sk_x", "SCHEDULER_CONFIG": str(tmp_path / "c.toml")}
    done = subprocess.run(
        [sys.executable, "-m", "scheduler_cli.main", "ls", "--json"],
        check=False,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr and done.stderr.startswith("error: cannot reach")


def test_serve_is_still_there(cli: Run) -> None:
    result = cli("serve", "--help")
    assert result.code == 0 and "--port" in result.out and "--host" in result.out


def test_every_command_has_help(cli: Run) -> None:
    for argv in (["tenants", "create"], ["keys", "ls"], ["apps", "rotate-secret"], ["send"], ["tail"], ["usage"]):
        result = cli(*argv, "--help")
        assert result.code == 0 and "--json" in result.out, argv

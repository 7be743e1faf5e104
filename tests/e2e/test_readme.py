"""The README's walkthrough, run as written: its shell blocks are extracted and executed against a
server on a port other than the default (and a receiver on another), so docs and code cannot drift.

Each shell block of the "Try it" section is marked with an HTML comment: `walkthrough: serve` blocks
are started in the background (the server, the receiver) and waited for; `walkthrough: run` blocks
run in order in one bash (so variables carry over, as in one terminal), with `set -euo pipefail`.
The run happens in a scratch directory that links to everything in this checkout but `.scheduler/`,
so the data directory is the scratch one and the README's relative paths work unchanged.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import pytest

from tests.support.server import ROOT

pytestmark = pytest.mark.e2e
BLOCK = re.compile(r"(?:<!-- walkthrough: (\w+) -->\n)?```sh\n(.*?)```", re.S)
NOT_LINKED = frozenset({".scheduler", ".git"})  # the scratch directory gets its own data directory


def walkthrough(text: str) -> list[tuple[str, str]]:
    """The (kind, code) of every shell block of the "Try it" section; a block without a mark fails."""
    start = text.index("## Try it")
    end = text.index("\n## ", start + 1)
    blocks = [(kind, code) for kind, code in BLOCK.findall(text[start:end])]
    unmarked = [code for kind, code in blocks if kind not in ("serve", "run")]
    assert not unmarked, f"README shell blocks without a walkthrough mark: {unmarked}"
    return blocks


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait(predicate: object, what: str, processes: list[subprocess.Popen[str]], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        dead = [p for p in processes if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(p.stdout.read() if p.stdout else "" for p in dead)
            raise AssertionError(f"{what} did not come up:\n{logs}")
        time.sleep(0.1)


def test_the_readme_walkthrough_runs_as_written_on_other_ports(tmp_path: Path) -> None:
    blocks = walkthrough((ROOT / "README.md").read_text())
    serve = [code for kind, code in blocks if kind == "serve"]
    run = [code for kind, code in blocks if kind == "run"]
    assert len(serve) == 2 and len(run) >= 3, blocks
    has_curl = shutil.which("curl") is not None
    if not has_curl:  # a bare machine: the CLI blocks still run; the plain-HTTP one needs curl
        warnings.warn("curl is not installed: the README's curl block is left out of this run", stacklevel=1)
        run = [code for code in run if "curl " not in code]
    for entry in ROOT.iterdir():
        if entry.name not in NOT_LINKED:
            (tmp_path / entry.name).symlink_to(entry)
    port, receiver_port = _free_ports(2)
    assert 8000 not in (port, receiver_port) and 9100 not in (port, receiver_port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_") and k not in ("HOST", "MAKEFLAGS")}
    env |= {"PORT": str(port), "RECEIVER_PORT": str(receiver_port), "PYTHONUNBUFFERED": "1"}
    background: list[subprocess.Popen[str]] = []
    try:
        for code in serve:
            background.append(
                subprocess.Popen(
                    ["bash", "-c", code],
                    cwd=tmp_path,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    start_new_session=True,
                )
            )
        url = f"http://127.0.0.1:{port}/health"
        _wait(lambda: _health(url), f"the server on {port}", background)
        _wait(lambda: _listening(receiver_port), f"the receiver on {receiver_port}", background)
        script = "set -euo pipefail\n" + "\n".join(run)
        done = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False
        )
    finally:
        for process in background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        outputs = [process.communicate(timeout=30)[0] for process in background]
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    server_log, receiver_log = outputs
    assert re.search(r"#1  200  \d+ms  delivered", done.stdout), done.stdout
    assert re.search(r"^status +delivered$", done.stdout, re.M), done.stdout
    if has_curl:
        assert '"status":"scheduled"' in done.stdout and '"plan":' in done.stdout  # the curl answers
    assert "attempt 1 " in receiver_log and '{"hello":"world"}' in receiver_log, receiver_log
    assert f"listening on http://127.0.0.1:{port}" in server_log
    assert re.search(r"scheduler\.access: POST /messages 201 [\d.]+ms tenant=default", server_log), server_log
    assert re.search(r"scheduler\.delivery: msg_\w+ attempt 1/8 200 in \d+ms, delivered", server_log), server_log


def _health(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_example_receiver_refuses_the_schedulers_port() -> None:
    env = {**os.environ, "PORT": "11688", "RECEIVER_PORT": "11688"}
    done = subprocess.run(
        [sys.executable, "examples/receiver.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "port 11688 is the scheduler's (PORT)" in done.stderr

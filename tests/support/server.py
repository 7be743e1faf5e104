"""Start `scheduler serve` as a real process on a free loopback port (for e2e tests and benchmarks)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "sk_e2e_admin_key_0123456789abcdef"
_LISTENING = re.compile(r"listening on (http://[\d.]+:\d+)")


SERVE_LOCAL = ["-m", "scheduler_cli.main", "serve", "--host", "127.0.0.1", "--port", "0"]
# `make run-aws`: the same HTTP API through the AWS code path (awslocal/), on a free port.
SERVE_AWS = ["-m", "awslocal"]


class ServerProcess:
    """One server process on `data_dir`; `start()` returns once it listens. `command` picks the target:
    `SERVE_LOCAL` (`make run`) or `SERVE_AWS` (`make run-aws`)."""

    def __init__(
        self, data_dir: Path, env: Mapping[str, str] | None = None, command: list[str] | None = None, *, port: int = 0
    ) -> None:
        self.command = command or [*SERVE_LOCAL[:-1], str(port)]
        self.data_dir = data_dir
        self.port = port  # 0: a free one; a fixed one lets a restarted server keep its URL
        self.env = {
            **os.environ,
            "SCHEDULER_DATA_DIR": str(data_dir),
            "SCHEDULER_ADMIN_KEY": ADMIN_KEY,
            "PYTHONUNBUFFERED": "1",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            **(env or {}),
        }
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        """Start the process and wait for its `listening on` line."""
        self.output = []
        self.proc = subprocess.Popen(
            [sys.executable, *self.command],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        found = threading.Event()
        threading.Thread(target=self._read_output, args=(found,), daemon=True).start()
        if not found.wait(timeout_s):
            self.kill()
            raise RuntimeError("server did not start:\n" + "".join(self.output))
        return self

    def _read_output(self, found: threading.Event) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            match = _LISTENING.search(line)
            if match and not found.is_set():
                self.url = match.group(1)
                found.set()

    def client(self, token: str = ADMIN_KEY, **kwargs: object) -> httpx.Client:
        """A keep-alive client for this server, authenticated with `token`."""
        headers = {"authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0, trust_env=False, **kwargs)  # type: ignore[arg-type]

    def stop_quietly(self) -> None:
        """SIGTERM (the AWS harness stops its children), SIGKILL if it does not exit."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def wait_until(predicate: object, timeout_s: float = 20.0, interval_s: float = 0.02) -> None:
    """Poll `predicate()` until it is truthy, or fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(interval_s)

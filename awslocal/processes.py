"""Child processes of the harness (moto, one per Lambda function): started on loopback, their output
prefixed with the part's name, stopped together.

`Child.start()` waits for the line that says the process listens and returns its URL. Lines of
CloudWatch embedded metrics (`{"_aws": ...}`) are dropped unless `show_metrics` is set: they are what
CloudWatch would turn into metrics, not log lines for a person.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_URL = re.compile(r"(http://127\.0\.0\.1:\d+)")


class ChildFailed(RuntimeError):
    """A child process exited or did not get ready in time."""


class Child:
    """One child process; `ready` is a regex on its output that carries its URL."""

    def __init__(
        self,
        label: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        ready: str,
        show_metrics: bool = False,
    ) -> None:
        self.label = label
        self._argv = list(argv)
        self._env = dict(env)
        self._ready = re.compile(ready)
        self._show_metrics = show_metrics
        self._proc: subprocess.Popen[str] | None = None
        self._log = logging.getLogger(f"awslocal.{label}")
        self.url = ""
        self.tail: list[str] = []

    def start(self, timeout_s: float = 60.0) -> str:
        """Start it and wait until it listens; returns its URL."""
        self._proc = subprocess.Popen(  # noqa: S603 - argv of this interpreter and our own modules
            self._argv,
            cwd=ROOT,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C goes to the harness, which stops the children in order
        )
        found = threading.Event()
        threading.Thread(target=self._pump, args=(found,), daemon=True, name=f"out-{self.label}").start()
        if not found.wait(timeout_s) or not self.url:
            self.stop()
            raise ChildFailed(f"{self.label} did not start:\n" + "".join(self.tail[-30:]))
        return self.url

    def _pump(self, found: threading.Event) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self.tail = [*self.tail[-99:], line]
            if not found.is_set() and self._ready.search(line):
                match = _URL.search(line)
                self.url = match.group(1) if match else ""
                found.set()
                continue
            if line.startswith('{"_aws"') and not self._show_metrics:
                continue
            sys.stdout.write(f"[{self.label}] {line}")
            sys.stdout.flush()
        found.set()

    @property
    def alive(self) -> bool:
        """Whether the process still runs."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout_s)


def python(module: str, *args: str) -> list[str]:
    """The argv that runs `python -m module args...` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def base_env(extra: Mapping[str, str]) -> dict[str, str]:
    """A child's environment: only what a process needs to run (PATH, HOME, locale), plus `extra`."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")}
    return {**keep, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), **extra}

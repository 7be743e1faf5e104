"""Running the `scheduler` CLI in-process for tests: `main(argv)` with captured output and exit code."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from scheduler_cli.main import main

SETTINGS_VARIABLES = (
    "SCHEDULER_PROFILE",
    "SCHEDULER_URL",
    "SCHEDULER_API_KEY",
    "SCHEDULER_OPERATOR_KEY",
    "HOST",
    "PORT",
)


@dataclass
class Result:
    """Exit code and captured output of one CLI run."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


Run = Callable[..., Result]


def runner(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """`run(*argv, env=..., stdin=...)`: the CLI with extra environment and standard input for one call."""

    def run(*argv: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
        with monkeypatch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            if stdin is not None:
                patch.setattr(sys, "stdin", io.StringIO(stdin))
            try:
                code = main(list(argv))
            except SystemExit as exc:
                code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run

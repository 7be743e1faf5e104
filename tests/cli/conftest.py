"""CLI test fixtures: an in-process runner in an environment with no scheduler settings of the machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import SETTINGS_VARIABLES, Run, runner


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    """The CLI with its own empty config file and no SCHEDULER_* settings from the environment."""
    monkeypatch.setenv("SCHEDULER_CONFIG", str(tmp_path / "config.toml"))
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return runner(capsys, monkeypatch)

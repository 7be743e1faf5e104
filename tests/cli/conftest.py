"""CLI test fixtures: an in-process runner in an environment with no scheduler settings of the machine;
for the modules that talk to a real server, one server and receiver per module and `cli` as the
admin of a fresh tenant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler_client import SchedulerClient
from tests.support.cli import SETTINGS_VARIABLES, Run, runner
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess

OPERATOR_KEY = "op_cli_tests_operator_key_0123456789"


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    """The CLI with its own empty config file and no SCHEDULER_* settings from the environment."""
    monkeypatch.setenv("SCHEDULER_CONFIG", str(tmp_path / "config.toml"))
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return runner(capsys, monkeypatch)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server for this module."""
    process = ServerProcess(tmp_path_factory.mktemp("cli") / "data", {"SCHEDULER_OPERATOR_KEY": OPERATOR_KEY})
    yield process.start()
    process.kill()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A loopback receiver for this module."""
    with Receiver() as running:
        yield running


@pytest.fixture
def cli(server: ServerProcess, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> Run:
    """`main(argv)` in-process, as the admin of a fresh tenant (env), with captured output."""
    monkeypatch.setenv("SCHEDULER_URL", server.url)
    with SchedulerClient(server.url, OPERATOR_KEY, trust_env=False) as operator:
        monkeypatch.setenv("SCHEDULER_API_KEY", operator.create_tenant("cli", plan="unlimited").adminKey or "")
    return run_cli


def make_app(cli: Run, url: str = "https://example.com/hook", *extra: str) -> str:
    """A new app of the `cli` tenant; its id."""
    return str(cli("apps", "create", "--name", "a", "--url", url, *extra, "--json").json()["id"])

"""E2E fixtures: a real server process on each target, and a loopback receiver.

`server` runs every test against both targets: `local` (`make run`: SQLite and the in-process
timer, a fresh process per test) and `aws` (`make run-aws`: the AWS code path on moto, one harness
for the module because it takes a few seconds to start; tests make their own apps and tenants).
`local_server` is for what only the local target has: restarts on the same data directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.receiver import Receiver
from tests.support.server import SERVE_AWS, ServerProcess

OPERATOR_KEY = "op_e2e_operator_key_0123456789"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "data", {"SCHEDULER_OPERATOR_KEY": OPERATOR_KEY}).start()
    yield process
    process.kill()


@pytest.fixture(scope="module")
def aws_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("aws") / "data"
    process = ServerProcess(data, {"SCHEDULER_OPERATOR_KEY": OPERATOR_KEY}, command=SERVE_AWS).start()
    yield process
    process.stop_quietly()


@pytest.fixture(params=["local", "aws"])
def server(request: pytest.FixtureRequest) -> ServerProcess:
    return request.getfixturevalue(f"{request.param}_server")

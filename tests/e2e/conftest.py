"""E2E fixtures: a real `scheduler serve` process and a loopback receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.receiver import Receiver
from tests.support.server import ServerProcess

OPERATOR_KEY = "op_e2e_operator_key_0123456789"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "data", {"SCHEDULER_OPERATOR_KEY": OPERATOR_KEY}).start()
    yield process
    process.kill()

"""Adapter sets the conformance suite runs against. Each builds a `Context` on a settable clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chalicelib.services.context import Context
from chalicelib.settings import Settings
from scheduler_local.wiring import build_local_runtime


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, now_ms: int = 1_800_000_000_000) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


def _local(tmp_path: Path, clock: ManualClock) -> Iterator[Context]:
    runtime = build_local_runtime(Settings(data_dir=tmp_path / "data"), clock=clock)
    try:
        yield runtime.context
    finally:
        runtime.close()


def _aws(tmp_path: Path, clock: ManualClock) -> Iterator[Context]:
    """The AWS adapters on moto: tables from `chalicelib.adapters.aws.tables.TABLES`."""
    from moto import mock_aws

    from tests.aws import support

    with support.aws_env(), mock_aws():
        session = support.session()
        yield support.runtime(session, support.create_stack(session), clock=clock).context


ADAPTER_SETS: dict[str, Callable[[Path, ManualClock], Iterator[Context]]] = {"local": _local, "aws": _aws}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=sorted(ADAPTER_SETS))
def ctx(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> Iterator[Context]:
    yield from ADAPTER_SETS[request.param](tmp_path, clock)

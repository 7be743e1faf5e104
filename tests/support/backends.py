"""The adapter sets tests run on: each builds a real `Context` on the tests' settable clock.

`local` (SQLite on a temporary directory) backs every service and API test; the conformance suite
(tests/contract) runs on every entry, so a behaviour the unit tests rely on holds on DynamoDB too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from chalicelib.services.context import Context
from chalicelib.settings import Settings
from scheduler_local.wiring import build_local_runtime
from tests.support.doubles import SettableClock


@contextlib.contextmanager
def local(tmp_path: Path, clock: SettableClock, settings: Settings) -> Iterator[Context]:
    """The SQLite adapters on a fresh data directory (no engine running)."""
    runtime = build_local_runtime(Settings(**{**settings.__dict__, "data_dir": tmp_path / "data"}), clock=clock)
    try:
        yield runtime.context
    finally:
        runtime.close()


@contextlib.contextmanager
def aws(tmp_path: Path, clock: SettableClock, settings: Settings) -> Iterator[Context]:
    """The AWS adapters on moto: tables from `chalicelib.adapters.aws.tables.TABLES`."""
    from moto import mock_aws

    from tests.aws import support

    with support.aws_env(), mock_aws():
        session = support.session()
        aws_settings = Settings(**{**settings.__dict__, "backend": "aws", "allow_private_targets": True})
        yield support.runtime(session, support.create_stack(session), settings=aws_settings, clock=clock).context


ADAPTER_SETS: dict[str, Callable[[Path, SettableClock, Settings], AbstractContextManager[Context]]] = {
    "local": local,
    "aws": aws,
}

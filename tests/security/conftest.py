"""Security tests against a real server process (SQLite stores, waitress, the WSGI adapter).

`tests/functional/test_api_auth.py` checks the same rules through Chalice's test client with
in-memory fakes; here the whole stack runs, so a tenant filter missing from an SQL query, a body
limit the HTTP server does not enforce or a secret in a log line would show.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.harness import Cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One server for the module (an operator key set, private targets allowed)."""
    running = Cluster(tmp_path_factory.mktemp("security") / "data").start()
    yield running
    running.kill()

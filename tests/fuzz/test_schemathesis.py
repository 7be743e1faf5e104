"""Schemathesis against the running server: no 5xx, every response as documented, auth enforced.

The default size fits `make test`; `RELIABILITY_FULL=1` (or `bench/fuzz.py`) runs the full one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.fuzz.apifuzz import Target, fuzz, seed_data
from tests.reliability.harness import OPERATOR_KEY, Cluster, SwitchReceiver, read_db
from tests.support.server import ADMIN_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MAX_EXAMPLES = 50 if os.environ.get("RELIABILITY_FULL") == "1" else 10


@pytest.fixture
def target(tmp_path: Path) -> Iterator[tuple[Target, Cluster]]:
    with SwitchReceiver() as sink:
        cluster = Cluster(tmp_path / "data").start()
        try:
            yield Target(cluster.server.url, ADMIN_KEY, OPERATOR_KEY, sink.url("/fuzz")), cluster
        finally:
            cluster.kill()


def test_every_operation_answers_as_documented(target: tuple[Target, Cluster]) -> None:
    running, cluster = target
    seed_data(running)
    report = fuzz(running, max_examples=MAX_EXAMPLES)
    print(report.as_dict())
    assert report.operations >= 22 and len(report.by_operation) == report.operations
    assert report.cases >= report.operations * MAX_EXAMPLES
    assert report.with_real_ids > 0
    assert report.server_errors == 0
    assert report.failures == []
    assert "unhandled error" not in "".join(cluster.server.output)
    with read_db(cluster.data_dir) as conn:
        hosts = {urlsplit(url).hostname for (url,) in conn.execute("SELECT url FROM apps")}
    assert hosts == {"127.0.0.1"}, "fuzzing must never store an app URL off this machine"

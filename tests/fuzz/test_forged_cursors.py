"""Forged cursors on the real server: an opaque cursor decoded into any JSON value is a 200 or a 400, never a 500.

Schemathesis cannot reach past the cursor's base64-of-JSON encoding; here hypothesis builds the
JSON inside. Found: a number beyond SQLite's 64-bit integers (`[1e30 as int, "x"]`) reached the
query and the `OverflowError` was a 500 (fixed in `chalicelib/adapters/cursor.py`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.profile import examples
from tests.reliability.harness import OPERATOR_KEY, Cluster

pytestmark = pytest.mark.e2e

LISTS = [("/messages", "cursor", False), ("/apps", "cursor", False), ("/attempts", "after", False)]
LISTS += [("/tenants", "cursor", True)]
scalars = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 0, -1]),
    st.text(max_size=30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)


def encode(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    cluster = Cluster(Path(tmp_path_factory.mktemp("cursors")) / "data").start()
    with cluster.client() as admin, cluster.client(OPERATOR_KEY) as operator:
        yield admin, operator
    cluster.kill()


@examples(60)
@given(value=st.one_of(json_values, st.tuples(scalars, scalars).map(list), st.tuples(scalars).map(list)))
def test_a_forged_cursor_is_never_a_server_error(clients: tuple[httpx.Client, httpx.Client], value: object) -> None:
    admin, operator = clients
    for path, name, as_operator in LISTS:
        response = (operator if as_operator else admin).get(path, params={name: encode(value)})
        assert response.status_code in (200, 400), (path, value, response.text)
        if response.status_code == 400:
            assert response.json()["error"]["field"] == "cursor"


@pytest.mark.parametrize("value", [[10**30, "x"], [-(10**30), "x"], [2**63, "x"], [10**30]])
def test_numbers_no_store_can_hold_are_a_400(clients: tuple[httpx.Client, httpx.Client], value: list[object]) -> None:
    admin, _ = clients
    path, name = ("/attempts", "after") if len(value) == 1 else ("/messages", "cursor")
    response = admin.get(path, params={name: encode(value)})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "validation_error")

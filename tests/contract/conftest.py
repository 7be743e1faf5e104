"""The conformance suite runs on every adapter set: it overrides the `backend` the root `ctx` is built on."""

from __future__ import annotations

import pytest

from tests.support.backends import ADAPTER_SETS


@pytest.fixture(params=sorted(ADAPTER_SETS))
def backend(request: pytest.FixtureRequest) -> str:
    """Each adapter set in turn."""
    return str(request.param)

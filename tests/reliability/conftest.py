"""Fault tests: real server processes on loopback, bounded in time.

`RELIABILITY_FULL=1` runs the full-size variants (the figures of RELIABILITY.md); by default the
sizes fit `make test`.
"""

from __future__ import annotations

import os

import pytest

FULL = os.environ.get("RELIABILITY_FULL") == "1"


@pytest.fixture
def full() -> bool:
    """Whether to run the full-size variant."""
    return FULL

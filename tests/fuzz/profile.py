"""Hypothesis settings of the property tests: derandomized (the same cases on every run, so `make test` is
deterministic), sized for `make test`; `RELIABILITY_FULL=1` multiplies the examples by ten."""

from __future__ import annotations

import os

from hypothesis import settings

SCALE = 10 if os.environ.get("RELIABILITY_FULL") == "1" else 1


def examples(count: int, **extra: object) -> settings:
    """Settings for a property: `count` examples (times `SCALE`), derandomized, no deadline."""
    return settings(max_examples=count * SCALE, derandomize=True, deadline=None, database=None, **extra)  # type: ignore[arg-type]

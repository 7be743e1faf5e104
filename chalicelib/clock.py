"""The real clock (the `Clock` port); tests inject their own."""

from __future__ import annotations

import time


class SystemClock:
    """Wall-clock Unix milliseconds."""

    def now_ms(self) -> int:
        """Current time."""
        return time.time_ns() // 1_000_000

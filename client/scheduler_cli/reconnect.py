"""Long-running commands (`tail`, `send --file`) outlive a server restart: a call that finds the server
gone (connection refused or dropped, or a 502/503/504 from whatever stands in front of it) is tried
again with backoff (1 s, 2 s, 4 s ... up to 30 s) until it answers or the user presses Ctrl-C, and
each wait is announced on stderr. Only calls that are safe to repeat go through here: reads, and
batches whose items already carry their idempotency keys.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO, TypeVar

from scheduler_client import SchedulerAPIError, SchedulerConnectionError

T = TypeVar("T")
GATEWAY_STATUSES = frozenset({502, 503, 504})


@dataclass
class Reconnect:
    """Repeats a call while the server is unreachable, saying so on `stream`."""

    what: str
    max_delay_s: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    stream: TextIO | None = None
    _down: bool = field(default=False, init=False)

    def call(self, thunk: Callable[[], T]) -> T:
        """`thunk()`, tried again after each failure that means "the server is not there right now"."""
        failures = 0
        while True:
            try:
                result = thunk()
            except (SchedulerConnectionError, SchedulerAPIError) as exc:
                if isinstance(exc, SchedulerAPIError) and exc.status not in GATEWAY_STATUSES:
                    raise
                failures += 1
                delay = min(self.max_delay_s, 2.0 ** (failures - 1))
                self._say(f"{self.what}: lost the server ({_reason(exc)}); trying again in {delay:g} s (Ctrl-C stops)")
                self._down = True
                self.sleep(delay)
                continue
            if self._down:
                self._say(f"{self.what}: reconnected")
                self._down = False
            return result

    def _say(self, text: str) -> None:
        print(f"scheduler: {text}", file=self.stream or sys.stderr, flush=True)


def _reason(exc: SchedulerConnectionError | SchedulerAPIError) -> str:
    if isinstance(exc, SchedulerConnectionError):
        return exc.reason
    return f"{exc.status} {exc.code}"

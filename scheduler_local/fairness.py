"""Fair sharing of a scarce thing among tenants: a semaphore whose waiters are served round-robin by lane.

One tenant's pile of requests must not queue ahead of another tenant's single one. `FairSemaphore`
lets up to `capacity` holders in at once, at most `per_lane` of one lane (a tenant, or the engine),
and when a place frees up it goes to the next lane in turn, first come first served within a lane.
A lane that just got a place goes to the back of the line. The SQLite write lock is one of these
(capacity 1, lanes = tenants), so another tenant's write waits for at most one transaction per busy
lane ahead of it instead of for a whole flood; the gate on heavy requests is another.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator

SYSTEM_LANE = "-system"  # writes of no tenant (migration)
ENGINE_LANE = "-engine"  # the delivery engine's claims, results and housekeeping: one lane among the tenants


class FairSemaphore:
    """See the module docstring. Waiting is unbounded: callers hold a place only briefly."""

    def __init__(self, capacity: int, *, per_lane: int | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._free = capacity
        self._per_lane = per_lane or capacity
        self._mutex = threading.Lock()
        self._held: collections.Counter[str] = collections.Counter()
        self._waiting: collections.OrderedDict[str, collections.deque[threading.Event]] = collections.OrderedDict()

    @contextlib.contextmanager
    def hold(self, lane: str) -> Iterator[None]:
        """Wait for a place in `lane`'s turn, hold it for the block, then hand it on."""
        self.acquire(lane)
        try:
            yield
        finally:
            self.release(lane)

    def acquire(self, lane: str) -> None:
        """Wait until this lane's turn gives a place."""
        granted = threading.Event()
        with self._mutex:
            self._waiting.setdefault(lane, collections.deque()).append(granted)
            self._hand_over()
        granted.wait()

    def release(self, lane: str) -> None:
        """Give the place back; the next lane in turn gets it."""
        with self._mutex:
            self._held[lane] -= 1
            if self._held[lane] <= 0:
                del self._held[lane]
            self._free += 1
            self._hand_over()

    def waiting(self) -> int:
        """How many callers wait (for tests and stats)."""
        with self._mutex:
            return sum(len(queue) for queue in self._waiting.values())

    def _hand_over(self) -> None:
        """Grant free places to waiting lanes in round-robin order (caller holds the mutex)."""
        while self._free > 0:
            lane = next((name for name in self._waiting if self._held[name] < self._per_lane), None)
            if lane is None:
                return
            queue = self._waiting[lane]
            granted = queue.popleft()
            if queue:
                self._waiting.move_to_end(lane)
            else:
                del self._waiting[lane]
            self._held[lane] += 1
            self._free -= 1
            granted.set()

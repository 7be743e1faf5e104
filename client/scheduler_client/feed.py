"""Following the attempt feed (`GET /attempts?after=`), shared by the sync and async clients.

Pages are read back to back while `nextCursor` is set; once caught up the follower polls again
from `resumeCursor` every `poll_interval_s`, and stops after `idle_timeout_s` without a new attempt
(never, when that is None).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from scheduler_client import calls
from scheduler_client import models as m


@dataclass
class Follower:
    """Where a follower is in the feed and when it should stop."""

    cursor: str | None
    app_id: str | None
    poll_interval_s: float = 1.0
    idle_timeout_s: float | None = None
    page_size: int | None = None
    clock: Callable[[], float] = time.monotonic
    last_seen: float = field(init=False)

    def __post_init__(self) -> None:
        self.last_seen = self.clock()

    def call(self) -> calls.Call[m.AttemptFeed]:
        """The next page to read."""
        return calls.attempts_feed(self.cursor, self.app_id, self.page_size)

    def advance(self, page: m.AttemptFeed) -> float | None:
        """Move past `page`; the seconds to wait before the next read (0: read at once), or None to stop."""
        self.cursor = page.nextCursor or page.resumeCursor
        now = self.clock()
        if page.items:
            self.last_seen = now
        if page.nextCursor:
            return 0.0
        if self.idle_timeout_s is not None and now - self.last_seen >= self.idle_timeout_s:
            return None
        return self.poll_interval_s


def end_of_feed_call(app_id: str | None) -> calls.Call[m.AttemptFeed]:
    """The feed position after the newest attempt (`after=latest`: an empty page and its resumeCursor)."""
    return calls.attempts_feed("latest", app_id, 1)

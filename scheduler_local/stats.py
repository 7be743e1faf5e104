"""Delivery figures of the local engine, logged once a minute: attempts, outcomes and firing lateness."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from chalicelib.domain.model import Status
from chalicelib.ports import Clock, Completion

log = logging.getLogger("scheduler.stats")
PERIOD_MS = 60_000


class DeliveryStats:
    """Counts results and the lateness of first attempts; `record` logs a summary each period."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._period_end = clock.now_ms() + PERIOD_MS
        self._lateness: list[int] = []
        self._counts = {"attempts": 0, "delivered": 0, "failed": 0, "retrying": 0}

    def record(self, completions: Iterable[Completion]) -> None:
        """Count a written batch; log and reset when the period is over."""
        with self._lock:
            for item in completions:
                message = item.message
                if item.attempt is not None:
                    self._counts["attempts"] += 1
                    if item.attempt.n == 1 or message.attempts - message.attempts_base == 1:
                        self._lateness.append(item.attempt.started_at - message.send_at)
                if message.status is Status.DELIVERED:
                    self._counts["delivered"] += 1
                elif message.status is Status.FAILED:
                    self._counts["failed"] += 1
                elif message.status is Status.SCHEDULED:
                    self._counts["retrying"] += 1
            if self._clock.now_ms() >= self._period_end:
                self._flush()

    def _flush(self) -> None:
        late = sorted(self._lateness)
        if self._counts["attempts"]:
            log.info(
                "deliveries in the last minute: %s; first-attempt lateness ms p50=%s p99=%s max=%s",
                ", ".join(f"{name}={count}" for name, count in self._counts.items()),
                _pct(late, 50),
                _pct(late, 99),
                late[-1] if late else None,
            )
        self._lateness = []
        self._counts = dict.fromkeys(self._counts, 0)
        self._period_end = self._clock.now_ms() + PERIOD_MS


def _pct(values: list[int], pct: int) -> int | None:
    if not values:
        return None
    return values[min(len(values) - 1, (len(values) * pct) // 100)]

"""Recurring schedules in the local engine: the dispatcher hook and the `ScheduleTimer` port.

No thread or timer per schedule: the engine's one dispatcher thread calls `ScheduleDispatcher` on each
turn and sleeps until the earliest of its next due message and the hook's next wake-up, which is
`LOOKAHEAD_MS` before the earliest run of any active schedule (one index probe in the store). Between
wake-ups a call costs a comparison. Creating or changing a schedule pokes the hook and wakes the engine.
"""

from __future__ import annotations

import logging
import threading

from chalicelib.domain.recurrence import Schedule, ScheduleState
from chalicelib.services import schedules
from chalicelib.services.context import Context
from scheduler_local.engine import Engine

log = logging.getLogger(__name__)

RETRY_MS = 1_000  # after a failed step (storage busy), try again this soon
_IDLE = 2**62  # no active schedule: sleep until poked


class ScheduleDispatcher:
    """Creates due runs (through `services.schedules.dispatch`) when the engine asks, and says when next."""

    def __init__(self, context: Context) -> None:
        self._ctx = context
        self._lock = threading.Lock()
        self._next_wake = 0  # unknown at start: look at the store on the first call
        self._poked: int | None = None

    def __call__(self, now_ms: int) -> int | None:
        """Dispatch if a run is near; returns when to be called next (None: no schedule is active)."""
        with self._lock:
            if now_ms < self._next_wake:
                return self._next_wake
            self._next_wake = now_ms + RETRY_MS  # kept if the step below raises
            self._poked = None  # the store read below sees every change committed before now
        try:
            while schedules.dispatch(self._ctx, now_ms).more:
                now_ms = self._ctx.clock.now_ms()
            wake = schedules.next_wake(self._ctx)
        except Exception:  # storage trouble: deliveries go on, runs are tried again in a second
            log.exception("creating recurring runs failed")
            return self._next_wake
        with self._lock:
            candidates = [at for at in (wake, self._poked) if at is not None]
            self._next_wake = min(candidates) if candidates else _IDLE
            self._poked = None
            return None if self._next_wake == _IDLE else self._next_wake

    def poke(self, wake_ms: int) -> None:
        """A schedule has a run near `wake_ms` (+ lookahead): make the next call dispatch by then."""
        with self._lock:
            self._next_wake = min(self._next_wake, wake_ms)
            self._poked = wake_ms if self._poked is None else min(self._poked, wake_ms)


class LocalScheduleTimer:
    """The `ScheduleTimer` port locally: the store is the timer, so a change only wakes the engine."""

    def __init__(self) -> None:
        self._dispatcher: ScheduleDispatcher | None = None
        self._engine: Engine | None = None

    def attach(self, dispatcher: ScheduleDispatcher | None, engine: Engine | None) -> None:
        """Route changes to a running engine's dispatcher (None detaches)."""
        self._dispatcher, self._engine = dispatcher, engine

    def schedule_changed(self, schedule: Schedule) -> None:
        """Wake the engine by the schedule's next run (less the lookahead)."""
        if schedule.state is not ScheduleState.ACTIVE or schedule.next_run_at is None:
            return
        wake = schedule.next_run_at - schedules.LOOKAHEAD_MS
        if self._dispatcher is not None:
            self._dispatcher.poke(wake)
        if self._engine is not None:
            self._engine.wake(wake)

    def schedule_deleted(self, schedule: Schedule) -> None:
        """Nothing to do: a deleted schedule is not in the store's due index."""

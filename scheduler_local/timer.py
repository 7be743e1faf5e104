"""The `Timer` port locally: arming wakes the dispatcher; due times live in the store itself."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.domain.model import Message, Status
from scheduler_local.engine import Engine


class LocalTimer:
    """Wakes the engine for sooner messages. Without an engine (tests, tools) arming is a no-op:
    the store is the timer, and an engine started later finds every due message there."""

    def __init__(self) -> None:
        self._engine: Engine | None = None

    def attach(self, engine: Engine | None) -> None:
        """Route wake-ups to `engine` (None detaches)."""
        self._engine = engine

    def arm(self, messages: Sequence[Message]) -> None:
        """Wake the dispatcher if one of these is due before its current sleep ends."""
        due = [message.due_at for message in messages if message.status is Status.SCHEDULED]
        if due and self._engine is not None:
            self._engine.wake(min(due))

    def disarm(self, messages: Sequence[Message]) -> None:
        """Nothing to do: the dispatcher reads due times from the store, and a bumped `gen` ends stale claims."""

    def app_deleted(self, tenant_id: str, app_id: str) -> None:
        """Cancel the app's attempts in flight before the delete returns."""
        if self._engine is not None:
            self._engine.abort_app(app_id)

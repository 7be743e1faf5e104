"""The local engine's schedule hook: it dispatches only when a run is near, says when to call it next,
is woken early by a change, and keeps deliveries going when creating runs fails."""

from __future__ import annotations

import pytest

from chalicelib.domain.times import parse_instant
from chalicelib.services import schedule_runs, schedules
from chalicelib.services.context import Context
from scheduler_local.schedules_dispatch import RETRY_MS, ScheduleDispatcher
from tests.contract.test_schedules_conformance import app_of, create, runs_of, tenant
from tests.support.doubles import SettableClock


def at(text: str) -> int:
    return parse_instant(text, field="t")


def test_the_hook_sleeps_until_the_next_run_comes_near(ctx: Context, clock: SettableClock) -> None:
    who = tenant(ctx)
    clock.set(at("2026-12-04T09:58:30Z"))
    hook = ScheduleDispatcher(ctx)
    assert hook(clock.now_ms()) is None  # no schedule yet: nothing planned
    made = create(ctx, who, app_of(ctx, who), cron="* * * * *")
    hook.poke(made.next_run_at - schedules.LOOKAHEAD_MS)  # what LocalScheduleTimer does on create
    wake = at("2026-12-04T09:59:00Z") - schedules.LOOKAHEAD_MS
    assert hook(clock.now_ms()) == wake and runs_of(ctx, who, made.id) == []
    clock.set(wake)
    assert hook(clock.now_ms()) == at("2026-12-04T10:00:00Z") - schedules.LOOKAHEAD_MS
    assert [run.send_at for run in runs_of(ctx, who, made.id)] == [at("2026-12-04T09:59:00Z")]


def test_a_failed_step_is_retried_soon_and_does_not_raise(
    ctx: Context, clock: SettableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = ScheduleDispatcher(ctx)

    def broken(*args: object, **kwargs: object) -> schedule_runs.Dispatched:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(schedules, "dispatch", broken)
    assert hook(clock.now_ms()) == clock.now_ms() + RETRY_MS
    assert hook(clock.now_ms()) == clock.now_ms() + RETRY_MS  # not before the retry time

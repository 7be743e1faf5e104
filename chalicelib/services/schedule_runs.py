"""Creating the runs of recurring schedules: each run is an ordinary message, written by the schedule
store in one step with the schedule's advance, under the idempotency key `run_key(schedule, run instant)`.

Runs are created up to `LOOKAHEAD_MS` before their time, due at their time, so the delivery path's own
timer fires them on time. Two drivers: `dispatch` (a backend whose schedule store is also the timer: the
local engine calls it as the earliest `next_run_at` comes near) and `fire` (one run, for a backend whose
own scheduler fires each run, such as EventBridge Scheduler; with `catch_up` for a firing that comes late
and `repair` for schedules whose timer never fired). Runs that fell in downtime follow the
schedule's `missedRuns`: `skip` none, `once` one now (keyed by the latest missed time), `all` each one now
(at most `MAX_CATCH_UP_RUNS`, the latest; runs older than `MISSED_LOOKBACK_MS` are not looked at).
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass

from chalicelib.domain import ids
from chalicelib.domain.errors import ConcurrentUpdate, NotFound, QuotaExceeded, StorageUnavailable
from chalicelib.domain.model import App, Message, Status, UsageDelta
from chalicelib.domain.recurrence import (
    MAX_CATCH_UP_RUNS,
    MissedRuns,
    Schedule,
    ScheduleState,
    iter_runs,
    next_run,
    run_key,
)
from chalicelib.domain.times import day_of
from chalicelib.ports import Inserted, NewMessage, ScheduleRuns, ScheduleStore
from chalicelib.services.context import Context

LOOKAHEAD_MS = 10_000  # a run's message is created this long before its time (due at its time)
MISSED_AFTER_MS = 60_000  # a run this late when the dispatcher gets to it fell in downtime: `missedRuns` applies
MISSED_LOOKBACK_MS = 7 * 86_400_000  # missed runs are looked for this far back (older ones are not counted)
MAX_RUNS_PER_STEP = 1_000  # on-time runs one schedule gets in one dispatch step
DISPATCH_BATCH = 500
_FIRE_TRIES = 5
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Dispatched:
    """What one `dispatch` step did: runs created, and whether more schedules were due than it took."""

    created: int
    more: bool


def store_of(ctx: Context) -> ScheduleStore:
    """The context's schedule store; `NotFound` on an adapter set without one."""
    if ctx.schedules is None:
        raise NotFound("recurring schedules are not available on this backend")
    return ctx.schedules


def next_wake(ctx: Context) -> int | None:
    """When `dispatch` has work next: LOOKAHEAD_MS before the earliest run of any active schedule."""
    earliest = store_of(ctx).next_run_at()
    return None if earliest is None else earliest - LOOKAHEAD_MS


def dispatch(ctx: Context, now_ms: int, *, limit: int = DISPATCH_BATCH) -> Dispatched:
    """Create the runs due by `now_ms + LOOKAHEAD_MS` of up to `limit` schedules (all tenants), and
    advance each schedule in the same step; runs that fell in downtime follow its `missedRuns`."""
    store = store_of(ctx)
    due = store.due_schedules(now_ms + LOOKAHEAD_MS, limit=limit)
    if not due:
        return Dispatched(0, more=False)
    return Dispatched(_dispatch_due(ctx, due, now_ms), more=len(due) == limit)


def catch_up(ctx: Context, tenant_id: str, schedule_id: str, now_ms: int) -> int:
    """`dispatch` for one schedule (its runs up to now + LOOKAHEAD_MS, missed ones by its `missedRuns`):
    what a backend whose scheduler fires each run calls when a firing comes late. Returns runs created."""
    schedule = store_of(ctx).get_schedule(tenant_id, schedule_id)
    if schedule is None or schedule.state is ScheduleState.PAUSED or schedule.next_run_at is None:
        return 0
    if schedule.next_run_at > now_ms + LOOKAHEAD_MS:
        return 0
    return _dispatch_due(ctx, [schedule], now_ms)


def repair(ctx: Context, now_ms: int, *, overdue_ms: int, limit: int = DISPATCH_BATCH) -> Dispatched:
    """Schedules whose next run is `overdue_ms` past (their timer did not fire: a lost firing, a crash
    between a change and its arming): their runs by `missedRuns`, then each is armed again."""
    store = store_of(ctx)
    due = store.due_schedules(now_ms - overdue_ms, limit=limit)
    if not due:
        return Dispatched(0, more=False)
    created = _dispatch_due(ctx, due, now_ms)
    if ctx.schedule_timer is not None:
        for schedule in due:
            current = store.get_schedule(schedule.tenant_id, schedule.id)
            if current is None:
                continue
            try:
                ctx.schedule_timer.schedule_changed(current)
            except StorageUnavailable:  # still overdue: the next repair pass tries again
                log.warning("could not re-arm schedule %s", schedule.id, exc_info=True)
    return Dispatched(created, more=len(due) == limit)


def _dispatch_due(ctx: Context, due: list[Schedule], now_ms: int) -> int:
    apps: dict[tuple[str, str], App | None] = {}
    quotas: dict[str, int | None] = {}
    items = [_planned(ctx, schedule, now_ms, apps, quotas) for schedule in due]
    return _record(ctx, items)


def fire(ctx: Context, tenant_id: str, schedule_id: str, run_at_ms: int) -> Inserted | None:
    """Create the one run of a schedule at `run_at_ms` (what a backend's own scheduler calls when it
    fires); a repeated call for the same run returns the same message with `created=False`. None: no
    run (the schedule is gone, paused, outside its window, its app deleted, or over quota)."""
    store = store_of(ctx)
    for _ in range(_FIRE_TRIES):
        schedule = store.get_schedule(tenant_id, schedule_id)
        if schedule is None or schedule.state is ScheduleState.PAUSED or not _in_window(schedule, run_at_ms):
            return None
        now = ctx.clock.now_ms()
        app = ctx.apps.get_app(tenant_id, schedule.app_id)
        last = max(run_at_ms, schedule.last_run_at or run_at_ms)
        advanced = schedule.advanced(last_run_at=last, next_run_at=next_run(schedule, max(last, now)))
        runs = [] if app is None else [_run_message(schedule, app, run_at_ms, send_at=run_at_ms, now=now)]
        item = _item(advanced, schedule.next_run_at, runs, now, _tenant_quota(ctx, tenant_id, {}))
        if app is None:
            item = _without_runs(item, skipped=1)
        [result] = store.record_runs([item], idempotency_ttl_ms=ctx.settings.idempotency_ttl_ms)
        if isinstance(result.error, ConcurrentUpdate):
            continue
        if isinstance(result.error, QuotaExceeded):
            store.record_runs([_without_runs(item, skipped=1)], idempotency_ttl_ms=ctx.settings.idempotency_ttl_ms)
            return None
        if result.error is not None:
            raise result.error
        ctx.timer.arm([r.message for r in result.inserted if r.created])
        return result.inserted[0] if result.inserted else None
    raise StorageUnavailable(f"schedule {schedule_id} kept changing while its run was created; try again")


def _planned(
    ctx: Context,
    schedule: Schedule,
    now: int,
    apps: dict[tuple[str, str], App | None],
    quotas: dict[str, int | None],
) -> ScheduleRuns:
    """The runs of one due schedule up to now + LOOKAHEAD_MS, and its bookkeeping after them."""
    assert schedule.next_run_at is not None
    missed, skipped, on_time = _split_runs(schedule, now)
    runs_at = [(run_at, now) for run_at in missed] + [(run_at, run_at) for run_at in on_time]
    considered = [run_at for run_at, _ in runs_at] + skipped
    last = max(considered, default=schedule.last_run_at)
    # every run up to the horizon was looked at, unless this step stopped at its cap
    after = on_time[-1] if len(on_time) >= MAX_RUNS_PER_STEP else now + LOOKAHEAD_MS
    advanced = schedule.advanced(
        last_run_at=last,
        next_run_at=next_run(schedule, after),
        skipped_count=schedule.skipped_count + len(skipped),
    )
    key = (schedule.tenant_id, schedule.app_id)
    if key not in apps:
        apps[key] = ctx.apps.get_app(*key)
    app = apps[key]
    quota = _tenant_quota(ctx, schedule.tenant_id, quotas)
    if app is None:
        return _without_runs(_item(advanced, schedule.next_run_at, [], now, quota), skipped=len(runs_at))
    messages = [_run_message(schedule, app, run_at, send_at=send_at, now=now) for run_at, send_at in runs_at]
    return _item(advanced, schedule.next_run_at, messages, now, quota)


def _split_runs(schedule: Schedule, now: int) -> tuple[list[int], list[int], list[int]]:
    """(missed runs to create now, missed runs skipped, runs on time) from `next_run_at` on."""
    assert schedule.next_run_at is not None
    missed_before = now - MISSED_AFTER_MS
    horizon = now + LOOKAHEAD_MS
    start = max(schedule.next_run_at, missed_before - MISSED_LOOKBACK_MS) - 1
    recent: collections.deque[int] = collections.deque(maxlen=MAX_CATCH_UP_RUNS)
    skipped: list[int] = []
    on_time: list[int] = []
    for run_at in iter_runs(schedule, start):
        if run_at > horizon or len(on_time) >= MAX_RUNS_PER_STEP:
            break
        if run_at >= missed_before:
            on_time.append(run_at)
            continue
        if len(recent) == recent.maxlen:
            skipped.append(recent[0])
        recent.append(run_at)
    missed = list(recent)
    if schedule.missed_runs is MissedRuns.SKIP:
        skipped, missed = sorted(skipped + missed), []
    elif schedule.missed_runs is MissedRuns.ONCE:
        skipped, missed = sorted(skipped + missed[:-1]), missed[-1:]
    return missed, skipped, on_time


def _record(ctx: Context, items: list[ScheduleRuns]) -> int:
    """Write the items; one over its tenant's quota is written again without its runs (counted skipped)."""
    store = store_of(ctx)
    ttl = ctx.settings.idempotency_ttl_ms
    results = store.record_runs(items, idempotency_ttl_ms=ttl)
    retry = [
        _without_runs(item, skipped=len(item.runs))
        for item, result in zip(items, results, strict=True)
        if isinstance(result.error, QuotaExceeded)
    ]
    if retry:
        store.record_runs(retry, idempotency_ttl_ms=ttl)
    created = [r.message for result in results for r in result.inserted if r.created]
    ctx.timer.arm(created)
    return len(created)


def _item(
    advanced: Schedule, expected: int | None, runs: list[NewMessage], now: int, quota: int | None
) -> ScheduleRuns:
    usage = UsageDelta(advanced.tenant_id, day_of(now), scheduled=len(runs))
    return ScheduleRuns(advanced, expected, runs, usage, quota)


def _without_runs(item: ScheduleRuns, *, skipped: int) -> ScheduleRuns:
    schedule = item.schedule.advanced(skipped_count=item.schedule.skipped_count + skipped)
    usage = UsageDelta(item.usage.tenant_id, item.usage.day)
    return ScheduleRuns(schedule, item.expected_next_run_at, [], usage, None)


def _run_message(schedule: Schedule, app: App, run_at: int, *, send_at: int, now: int) -> NewMessage:
    message = Message(
        id=ids.new_id(ids.MESSAGE_PREFIX),
        tenant_id=schedule.tenant_id,
        app_id=app.id,
        status=Status.SCHEDULED,
        send_at=send_at,
        due_at=send_at,
        created_at=now,
        max_attempts=app.max_attempts,
        idempotency_key=run_key(schedule.id, run_at),
        schedule_id=schedule.id,
    )
    return NewMessage(message, schedule.payload_json)


def _tenant_quota(ctx: Context, tenant_id: str, cache: dict[str, int | None]) -> int | None:
    if tenant_id not in cache:
        tenant = ctx.tenants.get_tenant(tenant_id)
        plan = ctx.settings.plan(tenant.plan if tenant else ctx.settings.default_plan)
        cache[tenant_id] = plan.daily_quota
    return cache[tenant_id]


def _in_window(schedule: Schedule, run_at: int) -> bool:
    return (schedule.start_at is None or run_at >= schedule.start_at) and (
        schedule.end_at is None or run_at <= schedule.end_at
    )

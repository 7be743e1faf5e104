"""Recurring schedules: create, read, list, change, pause, resume, delete, and the creation of runs.

Each run is an ordinary message (attempts, retries, redrive, signing, metering, quota and the console
all apply) with `schedule_id` set and the idempotency key `recurrence.run_key(schedule, run instant)`:
the store writes it in one step with the schedule's bookkeeping, so a run is created once, crash or
not. Runs are created up to `LOOKAHEAD_MS` before their time, due at their time, so the delivery
path's own timer fires them on time; a change (PATCH) made within that window applies from the next
run on, while pause and delete also cancel the runs created but not yet due.

Two drivers create runs: `dispatch` (backends whose schedule store is also the timer: the local engine
calls it when the earliest `next_run_at` comes near) and `fire` (one run at a time, for a backend whose
own scheduler fires each run, such as EventBridge Scheduler on AWS).
"""

from __future__ import annotations

import collections
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain import ids
from chalicelib.domain.errors import (
    ConcurrentUpdate,
    InvalidInput,
    NotFound,
    PlanLimit,
    PreconditionRequired,
    QuotaExceeded,
    StaleEtag,
    StorageUnavailable,
)
from chalicelib.domain.model import App, Message, Page, Principal, Status, UsageDelta
from chalicelib.domain.model import cancel as cancel_transition
from chalicelib.domain.recurrence import (
    MAX_CATCH_UP_RUNS,
    SCHEDULE_PREFIX,
    MissedRuns,
    Recurrence,
    Schedule,
    ScheduleState,
    check_interval,
    check_window,
    iter_runs,
    next_run,
    parse_cron,
    parse_every,
    run_key,
    zone,
)
from chalicelib.domain.schedule_schemas import ScheduleCreate, SchedulePatch
from chalicelib.domain.times import day_of
from chalicelib.ports import Inserted, MessageQuery, NewMessage, ScheduleRuns, ScheduleStore
from chalicelib.services.context import Context
from chalicelib.services.messages import serialize_payload
from chalicelib.services.validation import validate

LOOKAHEAD_MS = 10_000  # a run's message is created this long before its time (due at its time)
MISSED_AFTER_MS = 60_000  # a run this late when the dispatcher gets to it fell in downtime: `missedRuns` applies
MISSED_LOOKBACK_MS = 7 * 86_400_000  # missed runs are looked for this far back (older ones are not counted)
MAX_RUNS_PER_STEP = 1_000  # on-time runs one schedule gets in one dispatch step
DISPATCH_BATCH = 500
_CANCEL_PAGE = 100
_FIRE_TRIES = 5


@dataclass(frozen=True, slots=True)
class Dispatched:
    """What one `dispatch` step did: runs created, and whether more schedules were due than it took."""

    created: int
    more: bool


# ---- the API's use cases -----------------------------------------------------------------------


def create(ctx: Context, principal: Principal, raw: Mapping[str, Any]) -> Schedule:
    """A new active schedule, within the plan's count and minimum interval."""
    body = validate(ScheduleCreate, raw)
    store = _store(ctx)
    now = ctx.clock.now_ms()
    _require_app(ctx, principal, body.appId)
    recurrence = _recurrence(body.cron, body.every, body.timezone, start_at=body.startAt, now=now)
    check_window(body.startAt, body.endAt)
    plan = ctx.settings.plan(principal.plan)
    check_interval(recurrence, min_interval_s=plan.min_interval_s, plan=plan.name, now_ms=now)
    schedule = Schedule(
        id=ids.new_id(SCHEDULE_PREFIX),
        tenant_id=principal.tenant_id,
        app_id=body.appId,
        payload_json=serialize_payload(body.payload),
        recurrence=recurrence,
        missed_runs=MissedRuns(body.missedRuns),
        state=ScheduleState.ACTIVE,
        created_at=now,
        updated_at=now,
        next_run_at=None,
        start_at=body.startAt,
        end_at=body.endAt,
    )
    schedule = schedule.advanced(next_run_at=next_run(schedule, now))
    if not store.create_schedule(schedule, max_schedules=plan.max_schedules):
        raise PlanLimit(
            f"plan {plan.name} allows at most {plan.max_schedules} schedules; delete one first or change plans"
        )
    _armed(ctx, schedule)
    return schedule


def get(ctx: Context, principal: Principal, schedule_id: str) -> Schedule:
    """One schedule of the caller's tenant, else `NotFound`."""
    schedule = _store(ctx).get_schedule(principal.tenant_id, schedule_id)
    if schedule is None:
        raise NotFound(f"no schedule {schedule_id}")
    return schedule


def payload(schedule: Schedule) -> Any:
    """The payload each run delivers, as a JSON value."""
    return json.loads(schedule.payload_json)


def list_schedules(ctx: Context, principal: Principal, *, cursor: str | None, limit: int) -> Page[Schedule]:
    """The tenant's schedules by id."""
    return _store(ctx).list_schedules(principal.tenant_id, cursor=cursor, limit=limit)


def count(ctx: Context, principal: Principal) -> int | None:
    """How many schedules the tenant has (None where the backend has none)."""
    return None if ctx.schedules is None else ctx.schedules.count_schedules(principal.tenant_id)


def update(
    ctx: Context, principal: Principal, schedule_id: str, raw: Mapping[str, Any], if_match: str | None
) -> Schedule:
    """PATCH: any subset of the fields, guarded by the etag. Runs already created stay (see the module)."""
    body = validate(SchedulePatch, raw)
    given = body.model_fields_set
    if not given:
        raise InvalidInput("nothing to change: give any of appId, payload, cron, every, timezone, startAt, endAt")
    current = get(ctx, principal, schedule_id)
    _check_etag(current, if_match)
    now = ctx.clock.now_ms()
    if body.appId is not None:
        _require_app(ctx, principal, body.appId)
    changed = current.changed(
        app_id=body.appId or current.app_id,
        payload_json=serialize_payload(body.payload) if "payload" in given else current.payload_json,
        recurrence=_patched_recurrence(current, body, now=now),
        missed_runs=MissedRuns(body.missedRuns) if body.missedRuns else current.missed_runs,
        start_at=body.startAt if "startAt" in given else current.start_at,
        end_at=body.endAt if "endAt" in given else current.end_at,
        updated_at=now,
    )
    check_window(changed.start_at, changed.end_at)
    plan = ctx.settings.plan(principal.plan)
    check_interval(changed.recurrence, min_interval_s=plan.min_interval_s, plan=plan.name, now_ms=now)
    if changed.state is ScheduleState.ACTIVE:
        changed = changed.advanced(next_run_at=next_run(changed, _resume_after(changed, now)))
    _store(ctx).update_schedule(changed, expected_version=current.version)
    _armed(ctx, changed)
    return changed


def pause(ctx: Context, principal: Principal, schedule_id: str) -> Schedule:
    """No more runs until resumed; runs created but not yet due are cancelled. Pausing twice is a no-op."""
    current = get(ctx, principal, schedule_id)
    if current.state is ScheduleState.PAUSED:
        return current
    now = ctx.clock.now_ms()
    paused = current.changed(state=ScheduleState.PAUSED, next_run_at=None, updated_at=now)
    _store(ctx).update_schedule(paused, expected_version=current.version)
    _armed(ctx, paused)
    _cancel_pending_runs(ctx, paused, now)
    return paused


def resume(ctx: Context, principal: Principal, schedule_id: str) -> Schedule:
    """Runs again from the next run time after now (the paused time is not downtime: nothing is caught up)."""
    current = get(ctx, principal, schedule_id)
    if current.state is ScheduleState.ACTIVE:
        return current
    now = ctx.clock.now_ms()
    resumed = current.changed(state=ScheduleState.ACTIVE, updated_at=now)
    resumed = resumed.advanced(next_run_at=next_run(resumed, _resume_after(resumed, now)))
    _store(ctx).update_schedule(resumed, expected_version=current.version)
    _armed(ctx, resumed)
    return resumed


def delete(ctx: Context, principal: Principal, schedule_id: str) -> None:
    """Delete a schedule; runs created but not yet due are cancelled, earlier runs stay as messages."""
    schedule = get(ctx, principal, schedule_id)
    if not _store(ctx).delete_schedule(principal.tenant_id, schedule_id):
        raise NotFound(f"no schedule {schedule_id}")
    if ctx.schedule_timer is not None:
        ctx.schedule_timer.schedule_deleted(schedule)
    _cancel_pending_runs(ctx, schedule, ctx.clock.now_ms())


# ---- creating runs ---------------------------------------------------------------------------


def next_wake(ctx: Context) -> int | None:
    """When `dispatch` has work next: LOOKAHEAD_MS before the earliest run of any active schedule."""
    earliest = _store(ctx).next_run_at()
    return None if earliest is None else earliest - LOOKAHEAD_MS


def dispatch(ctx: Context, now_ms: int, *, limit: int = DISPATCH_BATCH) -> Dispatched:
    """Create the runs due by `now_ms + LOOKAHEAD_MS` of up to `limit` schedules (all tenants), and
    advance each schedule in the same step; runs that fell in downtime follow its `missedRuns`."""
    store = _store(ctx)
    due = store.due_schedules(now_ms + LOOKAHEAD_MS, limit=limit)
    if not due:
        return Dispatched(0, more=False)
    apps: dict[tuple[str, str], App | None] = {}
    quotas: dict[str, int | None] = {}
    items = [_planned(ctx, schedule, now_ms, apps, quotas) for schedule in due]
    created = _record(ctx, items)
    return Dispatched(created, more=len(due) == limit)


def fire(ctx: Context, tenant_id: str, schedule_id: str, run_at_ms: int) -> Inserted | None:
    """Create the one run of a schedule at `run_at_ms` (what a backend's own scheduler calls when it
    fires); a repeated call for the same run returns the same message with `created=False`. None: no
    run (the schedule is gone, paused, outside its window, its app deleted, or over quota)."""
    store = _store(ctx)
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
    store = _store(ctx)
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


# ---- helpers -------------------------------------------------------------------------------------


def _store(ctx: Context) -> ScheduleStore:
    if ctx.schedules is None:
        raise NotFound("recurring schedules are not available on this backend")
    return ctx.schedules


def _require_app(ctx: Context, principal: Principal, app_id: str) -> None:
    if ctx.apps.get_app(principal.tenant_id, app_id) is None:
        raise NotFound(f"no app {app_id}", field="appId")


def _recurrence(cron: str | None, every: str | None, timezone: str, *, start_at: int | None, now: int) -> Recurrence:
    if (cron is None) == (every is None):
        raise InvalidInput("give exactly one of cron or every", field="cron" if cron is not None else "every")
    zone(timezone)
    if cron is not None:
        return Recurrence(timezone=timezone, cron=parse_cron(cron))
    assert every is not None
    every_ms = parse_every(every)
    return Recurrence(
        timezone=timezone, every_ms=every_ms, anchor_ms=start_at if start_at is not None else now + every_ms
    )


def _patched_recurrence(current: Schedule, body: SchedulePatch, *, now: int) -> Recurrence:
    given = body.model_fields_set
    if "cron" in given and "every" in given and body.cron is not None and body.every is not None:
        raise InvalidInput("give exactly one of cron or every", field="every")
    cron, every_ms = current.cron, current.every_ms
    timezone = body.timezone or current.timezone
    start_at = body.startAt if "startAt" in given else current.start_at
    if body.cron is not None:
        return _recurrence(body.cron, None, timezone, start_at=start_at, now=now)
    if body.every is not None:
        return _recurrence(None, body.every, timezone, start_at=start_at, now=now)
    zone(timezone)
    if every_ms is not None and "startAt" in given:  # a new start re-anchors the interval
        return Recurrence(timezone=timezone, every_ms=every_ms, anchor_ms=start_at if start_at else now + every_ms)
    return Recurrence(timezone=timezone, cron=cron, every_ms=every_ms, anchor_ms=current.recurrence.anchor_ms)


def _resume_after(schedule: Schedule, now: int) -> int:
    """Runs of a changed or resumed schedule start after now, and never repeat one already created."""
    return max(now, schedule.last_run_at or now)


def _in_window(schedule: Schedule, run_at: int) -> bool:
    return (schedule.start_at is None or run_at >= schedule.start_at) and (
        schedule.end_at is None or run_at <= schedule.end_at
    )


def _check_etag(schedule: Schedule, if_match: str | None) -> None:
    if if_match is None:
        raise PreconditionRequired("send If-Match with the schedule's etag (or *)", field="If-Match")
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in tags and schedule.etag not in tags and schedule.etag.strip('"') not in tags:
        raise StaleEtag(f"If-Match {if_match} does not match the current etag {schedule.etag}")


def _armed(ctx: Context, schedule: Schedule) -> None:
    if ctx.schedule_timer is not None:
        ctx.schedule_timer.schedule_changed(schedule)


def _cancel_pending_runs(ctx: Context, schedule: Schedule, now: int) -> None:
    """Cancel the schedule's runs that are created but not yet due (at most a few: LOOKAHEAD_MS ahead)."""
    query = MessageQuery(schedule_id=schedule.id, status=Status.SCHEDULED, send_after=now + 1)
    page = ctx.messages.list_messages(schedule.tenant_id, query, cursor=None, limit=_CANCEL_PAGE)
    cancelled: list[Message] = []
    for message in page.items:
        try:
            ctx.messages.save(cancel_transition(message), expected_gen=message.gen)
        except ConcurrentUpdate:
            continue  # claimed meanwhile: it is being delivered
        cancelled.append(message)
    ctx.timer.disarm(cancelled)

"""Recurring schedules: create, read, list, change, pause, resume and delete (the API's use cases).

Each run is an ordinary message (attempts, retries, redrive, signing, metering, quota and the console
all apply), created by `schedule_runs` (re-exported here: `dispatch`, `fire`, `next_wake`). Runs are
created up to `LOOKAHEAD_MS` before their time; a change (PATCH) made within that window applies from
the next run on, while pause and delete also cancel the runs created but not yet due. A change or a
resume never repeats a run already created: runs start after the later of now and `last_run_at`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from chalicelib.domain import ids
from chalicelib.domain.errors import (
    ConcurrentUpdate,
    InvalidInput,
    NotFound,
    PlanLimit,
    PreconditionRequired,
    StaleEtag,
    StorageUnavailable,
)
from chalicelib.domain.model import Message, Page, Principal, Status
from chalicelib.domain.model import cancel as cancel_transition
from chalicelib.domain.recurrence import (
    SCHEDULE_PREFIX,
    MissedRuns,
    Recurrence,
    Schedule,
    ScheduleState,
    check_interval,
    check_window,
    next_run,
    parse_cron,
    parse_every,
    zone,
)
from chalicelib.domain.schedule_schemas import ScheduleCreate, SchedulePatch
from chalicelib.ports import MessageQuery
from chalicelib.services.context import Context
from chalicelib.services.messages import serialize_payload
from chalicelib.services.schedule_runs import (
    LOOKAHEAD_MS,
    Dispatched,
    catch_up,
    dispatch,
    fire,
    next_wake,
    repair,
    store_of,
)
from chalicelib.services.validation import validate

__all__ = [
    "LOOKAHEAD_MS",
    "Dispatched",
    "catch_up",
    "count",
    "create",
    "delete",
    "dispatch",
    "fire",
    "get",
    "list_schedules",
    "next_wake",
    "pause",
    "payload",
    "repair",
    "resume",
    "update",
]
_CANCEL_PAGE = 100
log = logging.getLogger(__name__)


# ---- the API's use cases -----------------------------------------------------------------------


def create(ctx: Context, principal: Principal, raw: Mapping[str, Any]) -> Schedule:
    """A new active schedule, within the plan's count and minimum interval."""
    body = validate(ScheduleCreate, raw)
    store = store_of(ctx)
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
    try:
        _armed(ctx, schedule)
    except StorageUnavailable:  # not armed: not created either (the caller may try again)
        store.delete_schedule(schedule.tenant_id, schedule.id)
        raise
    return schedule


def get(ctx: Context, principal: Principal, schedule_id: str) -> Schedule:
    """One schedule of the caller's tenant, else `NotFound`."""
    schedule = store_of(ctx).get_schedule(principal.tenant_id, schedule_id)
    if schedule is None:
        raise NotFound(f"no schedule {schedule_id}")
    return schedule


def payload(schedule: Schedule) -> Any:
    """The payload each run delivers, as a JSON value."""
    return json.loads(schedule.payload_json)


def list_schedules(ctx: Context, principal: Principal, *, cursor: str | None, limit: int) -> Page[Schedule]:
    """The tenant's schedules by id."""
    return store_of(ctx).list_schedules(principal.tenant_id, cursor=cursor, limit=limit)


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
    _store_and_arm(ctx, current, changed)
    return changed


def pause(ctx: Context, principal: Principal, schedule_id: str) -> Schedule:
    """No more runs until resumed; runs created but not yet due are cancelled. Pausing twice is a no-op."""
    current = get(ctx, principal, schedule_id)
    if current.state is ScheduleState.PAUSED:
        return current
    now = ctx.clock.now_ms()
    paused = current.changed(state=ScheduleState.PAUSED, next_run_at=None, updated_at=now)
    _store_and_arm(ctx, current, paused)
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
    _store_and_arm(ctx, current, resumed)
    return resumed


def delete(ctx: Context, principal: Principal, schedule_id: str) -> None:
    """Delete a schedule; runs created but not yet due are cancelled, earlier runs stay as messages."""
    schedule = get(ctx, principal, schedule_id)
    if not store_of(ctx).delete_schedule(principal.tenant_id, schedule_id):
        raise NotFound(f"no schedule {schedule_id}")
    if ctx.schedule_timer is not None:
        ctx.schedule_timer.schedule_deleted(schedule)
    _cancel_pending_runs(ctx, schedule, ctx.clock.now_ms())


# ---- helpers -------------------------------------------------------------------------------------


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


def _check_etag(schedule: Schedule, if_match: str | None) -> None:
    if if_match is None:
        raise PreconditionRequired("send If-Match with the schedule's etag (or *)", field="If-Match")
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in tags and schedule.etag not in tags and schedule.etag.strip('"') not in tags:
        raise StaleEtag(f"If-Match {if_match} does not match the current etag {schedule.etag}")


def _store_and_arm(ctx: Context, current: Schedule, changed: Schedule) -> None:
    """Store a change, then arm it; when arming fails the change is undone (the stored schedule goes
    back to `current`, its etag still valid) and the caller gets the 503."""
    store = store_of(ctx)
    store.update_schedule(changed, expected_version=current.version)
    try:
        _armed(ctx, changed)
    except StorageUnavailable:
        try:
            store.update_schedule(current, expected_version=changed.version)
            _armed(ctx, current)
        except Exception:  # the repair pass re-arms what is stored
            log.warning("could not undo the change of schedule %s", changed.id, exc_info=True)
        raise


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

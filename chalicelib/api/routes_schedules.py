"""Recurring schedules: create, list, read, change (If-Match), delete, pause and resume.

Each run of a schedule is an ordinary message (`GET /messages?scheduleId=` lists them).
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api import present
from chalicelib.api.auth import Call, Guard
from chalicelib.api.request import header, json_body, limit_param, params, text_param
from chalicelib.domain.model import Scope
from chalicelib.domain.recurrence import Schedule
from chalicelib.services import schedules

bp = Blueprint(__name__)
guard = Guard(bp)


@bp.route("/schedules", methods=["POST"])
@guard.secured(Scope.SEND)
def create_schedule(call: Call) -> Response:
    """A new recurring schedule: `cron` or `every`, in a `timezone`, within `startAt`/`endAt`."""
    raw = json_body(call.request, max_bytes=call.ctx.settings.max_body_bytes)
    created = schedules.create(call.ctx, call.principal, raw)
    return _schedule_response(created, 201, schedules.payload(created))


@bp.route("/schedules", methods=["GET"])
@guard.secured(Scope.READ)
def list_schedules(call: Call) -> Response:
    """Schedules by id."""
    query = params(call.request)
    page = schedules.list_schedules(
        call.ctx, call.principal, cursor=text_param(query, "cursor"), limit=limit_param(query)
    )
    return present.response(present.page(page, present.schedule))


@bp.route("/schedules/{id}", methods=["GET"])
@guard.secured(Scope.READ)
def get_schedule(call: Call, id: str) -> Response:
    """One schedule with its payload."""
    found = schedules.get(call.ctx, call.principal, id)
    return _schedule_response(found, 200, schedules.payload(found))


@bp.route("/schedules/{id}", methods=["PATCH"])
@guard.secured(Scope.SEND)
def change_schedule(call: Call, id: str) -> Response:
    """Change any fields; `If-Match` must carry the current etag (or `*`)."""
    raw = json_body(call.request, max_bytes=call.ctx.settings.max_body_bytes)
    changed = schedules.update(call.ctx, call.principal, id, raw, header(call.request, "if-match"))
    return _schedule_response(changed, 200, schedules.payload(changed))


@bp.route("/schedules/{id}", methods=["DELETE"])
@guard.secured(Scope.SEND)
def delete_schedule(call: Call, id: str) -> Response:
    """Delete a schedule (runs not yet due are cancelled; earlier runs stay)."""
    schedules.delete(call.ctx, call.principal, id)
    return present.response({})


@bp.route("/schedules/{id}/pause", methods=["POST"])
@guard.secured(Scope.SEND)
def pause_schedule(call: Call, id: str) -> Response:
    """No runs until resumed."""
    return _schedule_response(schedules.pause(call.ctx, call.principal, id), 200)


@bp.route("/schedules/{id}/resume", methods=["POST"])
@guard.secured(Scope.SEND)
def resume_schedule(call: Call, id: str) -> Response:
    """Runs again from the next run time after now."""
    return _schedule_response(schedules.resume(call.ctx, call.principal, id), 200)


def _schedule_response(value: Schedule, status: int, payload: Any = present.NO_PAYLOAD) -> Response:
    return present.response(present.schedule(value, payload), status, {"ETag": value.etag})

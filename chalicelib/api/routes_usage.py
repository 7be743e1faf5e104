"""Metering and the attempt feed: `GET /usage` and `GET /attempts` (`read` scope)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import present
from chalicelib.api.auth import Call, Guard
from chalicelib.api.request import limit_param, params, text_param
from chalicelib.domain.model import Scope
from chalicelib.services import messages, usage

bp = Blueprint(__name__)
guard = Guard(bp)


@bp.route("/usage", methods=["GET"])
@guard.secured(Scope.READ)
def get_usage(call: Call) -> Response:
    """Counters per UTC day: every day from `from` to `to`, or by default the days with activity in the
    last 30; with the period covered and the limits of the caller's plan."""
    query = params(call.request)
    found = usage.usage(call.ctx, call.principal, first=text_param(query, "from"), last=text_param(query, "to"))
    return present.response(present.usage(found))


@bp.route("/attempts", methods=["GET"])
@guard.secured(Scope.READ)
def recent_attempts(call: Call) -> Response:
    """Attempts in the order they were recorded, after the cursor `after` (what `tail` follows).

    Besides `nextCursor` (null once caught up), `resumeCursor` marks the position to poll from next.
    """
    query = params(call.request)
    page = messages.recent_attempts(
        call.ctx,
        call.principal,
        app_id=text_param(query, "appId"),
        after=text_param(query, "after"),
        limit=limit_param(query),
    )
    return present.response(present.feed(page, present.attempt))

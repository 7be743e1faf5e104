"""Messages: schedule (one or a batch), read, list, change, cancel, redrive, attempts."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api import present
from chalicelib.api.auth import Call, Guard
from chalicelib.api.errors import error_json
from chalicelib.api.request import (
    header,
    instant_param,
    json_body,
    limit_param,
    params,
    status_param,
    text_param,
)
from chalicelib.domain.errors import InvalidInput, SchedulerError
from chalicelib.domain.model import Message, Scope
from chalicelib.domain.schemas import MessageBatch
from chalicelib.ports import Inserted, MessageQuery
from chalicelib.services import messages
from chalicelib.services.validation import validate

MAX_BATCH_BODY_BYTES = 5 * 1024 * 1024
MAX_IDEMPOTENCY_KEY = 255

bp = Blueprint(__name__)
guard = Guard(bp)


@bp.route("/messages", methods=["POST"])
@guard.secured(Scope.SEND)
def create_message(call: Call) -> Response:
    """Schedule one message: 201, or 200 when an idempotency key replays the same request."""
    raw = json_body(call.request, max_bytes=call.ctx.settings.max_body_bytes)
    if not isinstance(raw, dict):
        raise InvalidInput("the body must be a JSON object")
    key = header(call.request, "idempotency-key") or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(f"Idempotency-Key is longer than {MAX_IDEMPOTENCY_KEY} characters", field="Idempotency-Key")
    (outcome,) = messages.schedule(call.ctx, call.principal, [raw], header_key=key)
    if isinstance(outcome, SchedulerError):
        raise outcome
    return _message_response(outcome.message, 201 if outcome.created else 200)


@bp.route("/messages/batch", methods=["POST"])
@guard.secured(Scope.SEND)
def create_batch(call: Call) -> Response:
    """Schedule 1-100 messages; each item answers for itself, in order."""
    body = validate(MessageBatch, json_body(call.request, max_bytes=MAX_BATCH_BODY_BYTES))
    outcomes = messages.schedule(call.ctx, call.principal, body.messages)
    return present.response({"items": [_batch_item(outcome) for outcome in outcomes]})


def _batch_item(outcome: Inserted | SchedulerError) -> dict[str, Any]:
    if isinstance(outcome, SchedulerError):
        return error_json(outcome)
    return present.message(outcome.message)


@bp.route("/messages", methods=["GET"])
@guard.secured(Scope.READ)
def list_messages(call: Call) -> Response:
    """Messages by `sendAt`, then id; filters `appId`, `status`, `sendAfter`, `sendBefore`, `scheduleId`."""
    query = params(call.request)
    filters = MessageQuery(
        app_id=text_param(query, "appId"),
        status=status_param(query),
        send_after=instant_param(query, "sendAfter"),
        send_before=instant_param(query, "sendBefore"),
        schedule_id=text_param(query, "scheduleId"),
    )
    page = messages.list_messages(
        call.ctx, call.principal, filters, cursor=text_param(query, "cursor"), limit=limit_param(query)
    )
    return present.response(present.page(page, present.message))


@bp.route("/messages/{id}", methods=["GET"])
@guard.secured(Scope.READ)
def get_message(call: Call, id: str) -> Response:
    """One message with its payload."""
    message = messages.get(call.ctx, call.principal, id)
    payload = messages.get_payload(call.ctx, call.principal, id)
    return _message_response(message, 200, payload)


@bp.route("/messages/{id}", methods=["PATCH"])
@guard.secured(Scope.SEND)
def change_message(call: Call, id: str) -> Response:
    """New `sendAt` and/or `payload` while scheduled; `If-Match` must carry the current etag (or `*`)."""
    raw = json_body(call.request, max_bytes=call.ctx.settings.max_body_bytes)
    changed = messages.change(call.ctx, call.principal, id, raw, header(call.request, "if-match"))
    return _message_response(changed, 200)


@bp.route("/messages/{id}", methods=["DELETE"])
@guard.secured(Scope.SEND)
def cancel_message(call: Call, id: str) -> Response:
    """Cancel a scheduled message."""
    return _message_response(messages.cancel(call.ctx, call.principal, id), 200)


@bp.route("/messages/{id}/redrive", methods=["POST"])
@guard.secured(Scope.SEND)
def redrive_message(call: Call, id: str) -> Response:
    """Schedule a failed or cancelled message again, now or at the body's `sendAt` (the body is optional)."""
    raw = json_body(call.request, max_bytes=call.ctx.settings.max_body_bytes, required=False)
    return _message_response(messages.redrive(call.ctx, call.principal, id, raw), 200)


@bp.route("/messages/{id}/attempts", methods=["GET"])
@guard.secured(Scope.READ)
def list_attempts(call: Call, id: str) -> Response:
    """A message's attempts, oldest first."""
    return present.response(present.items(messages.attempts(call.ctx, call.principal, id), present.attempt))


def _message_response(message: Message, status: int, payload: Any = present.NO_PAYLOAD) -> Response:
    return present.response(present.message(message, payload), status, {"ETag": message.etag})

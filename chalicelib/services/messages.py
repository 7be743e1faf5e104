"""Messages: schedule (single and batch), read, list, change, cancel, redrive, attempts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.domain import ids
from chalicelib.domain.errors import (
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    PartiallyStored,
    PayloadTooLarge,
    PreconditionRequired,
    SchedulerError,
    StaleEtag,
    StorageUnavailable,
    WrongState,
)
from chalicelib.domain.model import App, Attempt, Message, Page, Principal, Status, UsageDelta
from chalicelib.domain.model import cancel as cancel_transition
from chalicelib.domain.model import redrive as redrive_transition
from chalicelib.domain.model import reschedule as reschedule_transition
from chalicelib.domain.schemas import MAX_PAYLOAD_BYTES, MessageCreate, MessagePatch, Redrive
from chalicelib.domain.times import day_of, delay_to_ms, resolve_send_at
from chalicelib.ports import Inserted, MessageQuery, NewMessage
from chalicelib.services.context import Context
from chalicelib.services.validation import validate

Outcome = Inserted | SchedulerError
LATEST = "latest"  # the `after` of GET /attempts that starts the feed at the newest attempt


def serialize_payload(payload: Any) -> str:
    """Compact JSON of a payload; over 256 KiB is `PayloadTooLarge`."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    if len(text) > MAX_PAYLOAD_BYTES // 4 and len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"payload is larger than {MAX_PAYLOAD_BYTES} bytes", field="payload")
    return text


def request_hash(raw: Mapping[str, Any]) -> str:
    """Hash of a create request as sent (so `delaySeconds` compares as sent, not as a time). The key
    itself is left out: the same request with the key in the header or in the body is the same request."""
    fields = {name: value for name, value in raw.items() if name != "idempotencyKey"}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def schedule(
    ctx: Context, principal: Principal, raws: Sequence[Mapping[str, Any]], *, header_key: str | None = None
) -> list[Outcome]:
    """Validate and store messages in order; each item is a stored/replayed message or its own error."""
    now = ctx.clock.now_ms()
    apps: dict[str, App | None] = {}
    prepared: list[NewMessage | SchedulerError] = []
    for raw in raws:
        try:
            prepared.append(_prepare(ctx, principal, raw, header_key=header_key, now=now, apps=apps))
        except SchedulerError as exc:
            prepared.append(exc)
    fresh = [item for item in prepared if isinstance(item, NewMessage)]
    if not fresh:
        return [item for item in prepared if isinstance(item, SchedulerError)]
    usage = UsageDelta(principal.tenant_id, day_of(now), scheduled=len(fresh))
    stored = iter(_insert(ctx, fresh, usage, _daily_quota(ctx, principal)))
    results = [item if isinstance(item, SchedulerError) else _replay_check(item, next(stored)) for item in prepared]
    ctx.timer.arm([r.message for r in results if isinstance(r, Inserted) and r.created])
    return results


def _insert(
    ctx: Context, fresh: list[NewMessage], usage: UsageDelta, quota: int | None
) -> list[Inserted | SchedulerError]:
    """Store the messages; when storage failed part-way (a batch in several transactions), the items
    it stored are results and each of the others is the storage error (so a retry of only those is safe)."""
    try:
        return list(
            ctx.messages.insert_messages(fresh, usage, idempotency_ttl_ms=ctx.settings.idempotency_ttl_ms, quota=quota)
        )
    except PartiallyStored as partial:
        stored = partial.stored + [None] * (len(fresh) - len(partial.stored))
        failed = StorageUnavailable(partial.message, retry_after_s=partial.retry_after_s)
        return [item if isinstance(item, Inserted) else failed for item in stored]


def _daily_quota(ctx: Context, principal: Principal) -> int | None:
    return ctx.settings.plan(principal.plan).daily_quota


def _prepare(
    ctx: Context,
    principal: Principal,
    raw: Mapping[str, Any],
    *,
    header_key: str | None,
    now: int,
    apps: dict[str, App | None],
) -> NewMessage:
    body = validate(MessageCreate, raw)
    key = _idempotency_key(body.idempotencyKey, header_key)
    if body.appId not in apps:
        apps[body.appId] = ctx.apps.get_app(principal.tenant_id, body.appId)
    app = apps[body.appId]
    if app is None:
        raise NotFound(f"no app {body.appId}", field="appId")
    send_at = _due(ctx, body.sendAt, body.delaySeconds, now=now)
    message = Message(
        id=ids.new_id(ids.MESSAGE_PREFIX),
        tenant_id=principal.tenant_id,
        app_id=app.id,
        status=Status.SCHEDULED,
        send_at=send_at,
        due_at=send_at,
        created_at=now,
        max_attempts=body.maxAttempts or app.max_attempts,
        not_after=body.notAfter,
        idempotency_key=key,
    )
    hashed = request_hash(raw) if key else None
    return NewMessage(message, serialize_payload(body.payload), hashed)


def _due(ctx: Context, send_at: int | None, delay_seconds: float | None, *, now: int) -> int:
    """When a message asked to go at `send_at` or in `delay_seconds` is due (the settings' horizon and
    past tolerance applied)."""
    return resolve_send_at(
        send_at_ms=send_at,
        delay_ms=None if delay_seconds is None else delay_to_ms(delay_seconds),
        now_ms=now,
        horizon_days=ctx.settings.max_horizon_days,
        past_tolerance_ms=ctx.settings.past_tolerance_s * 1000,
    )


def _idempotency_key(body_key: str | None, header_key: str | None) -> str | None:
    if body_key and header_key and body_key != header_key:
        raise InvalidInput("Idempotency-Key header and idempotencyKey differ", field="idempotencyKey")
    return body_key or header_key


def _replay_check(new: NewMessage, stored: Inserted | SchedulerError) -> Outcome:
    if isinstance(stored, SchedulerError):
        return stored
    if stored.created or stored.request_hash == new.request_hash:
        return stored
    return IdempotencyConflict(
        "this idempotency key was used in the last 24 h with a different request body", field="idempotencyKey"
    )


def get(ctx: Context, principal: Principal, message_id: str) -> Message:
    """One message of the caller's tenant, else `NotFound`."""
    message = ctx.messages.get_message(principal.tenant_id, message_id)
    if message is None:
        raise NotFound(f"no message {message_id}")
    return message


def get_payload(ctx: Context, principal: Principal, message_id: str) -> Any:
    """A message's payload as a JSON value."""
    text = ctx.messages.get_payload(principal.tenant_id, message_id)
    if text is None:
        raise NotFound(f"no message {message_id}")
    return json.loads(text)


def list_messages(
    ctx: Context, principal: Principal, query: MessageQuery, *, cursor: str | None, limit: int
) -> Page[Message]:
    """The tenant's messages by `sendAt`, then id."""
    return ctx.messages.list_messages(principal.tenant_id, query, cursor=cursor, limit=limit)


def change(
    ctx: Context, principal: Principal, message_id: str, raw: Mapping[str, Any], if_match: str | None
) -> Message:
    """PATCH: a new `sendAt` (or `delaySeconds`) and/or payload while `scheduled`, guarded by the etag."""
    body = validate(MessagePatch, raw)
    if not body.model_fields_set:
        raise InvalidInput("nothing to change: give sendAt or delaySeconds, and/or payload")
    message = get(ctx, principal, message_id)
    _check_etag(message, if_match)
    now = ctx.clock.now_ms()
    send_at = None
    if body.sendAt is not None or body.delaySeconds is not None:
        send_at = _due(ctx, body.sendAt, body.delaySeconds, now=now)
    payload = serialize_payload(body.payload) if "payload" in body.model_fields_set else None
    changed = reschedule_transition(message, send_at=send_at)
    ctx.messages.save(changed, expected_gen=message.gen, payload_json=payload)
    ctx.timer.disarm([message])
    ctx.timer.arm([changed])
    return changed


def _check_etag(message: Message, if_match: str | None) -> None:
    if if_match is None:
        raise PreconditionRequired("send If-Match with the message's etag (or *)", field="If-Match")
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in tags and message.etag not in tags and message.etag.strip('"') not in tags:
        raise StaleEtag(f"If-Match {if_match} does not match the current etag {message.etag}")


def cancel(ctx: Context, principal: Principal, message_id: str) -> Message:
    """`scheduled → cancelled`; never delivered afterwards (except an attempt already in flight)."""
    message = get(ctx, principal, message_id)
    cancelled = cancel_transition(message)
    ctx.messages.save(cancelled, expected_gen=message.gen)
    ctx.timer.disarm([message])
    return cancelled


def redrive(ctx: Context, principal: Principal, message_id: str, raw: Mapping[str, Any] | None) -> Message:
    """`failed | cancelled → scheduled`, now or at the body's `sendAt`, with a fresh attempt budget.
    It schedules a delivery, so it counts against the daily quota exactly like a create."""
    body = validate(Redrive, {} if raw is None else raw)
    message = get(ctx, principal, message_id)
    if ctx.apps.get_app(principal.tenant_id, message.app_id) is None:
        raise WrongState(f"the app {message.app_id} of this message was deleted; it cannot be redriven")
    now = ctx.clock.now_ms()
    explicit = body.sendAt is not None or body.delaySeconds is not None
    send_at = _due(ctx, body.sendAt, body.delaySeconds, now=now) if explicit else now
    redriven = redrive_transition(message, send_at=send_at)
    usage = UsageDelta(principal.tenant_id, day_of(now), scheduled=1)
    ctx.messages.save(redriven, expected_gen=message.gen, usage=usage, quota=_daily_quota(ctx, principal))
    ctx.timer.arm([redriven])
    return redriven


def attempts(ctx: Context, principal: Principal, message_id: str) -> list[Attempt]:
    """A message's attempts, oldest first."""
    get(ctx, principal, message_id)
    return ctx.messages.list_attempts(principal.tenant_id, message_id)


def recent_attempts(
    ctx: Context, principal: Principal, *, app_id: str | None, after: str | None, limit: int
) -> Page[Attempt]:
    """Recent attempts across the tenant's messages (what `tail` follows). `after="latest"` skips the
    history: an empty page whose `resume_cursor` is where attempts recorded from now on will appear."""
    if after == LATEST:
        return Page([], None, resume_cursor=ctx.messages.latest_attempt_cursor(principal.tenant_id))
    return ctx.messages.recent_attempts(principal.tenant_id, app_id=app_id, after=after, limit=limit)

"""The API's requests, described once for the sync and the async client, and how answers are read.

A `Call` says what to send (method, path, query, JSON body, headers), whether it is safe to repeat
after a 5xx or a lost connection, and how to turn the JSON answer into a typed result. The clients
only send calls, retry them per `RetryPolicy`, and hand the response to `answers.read_response`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import TypeAdapter

from scheduler_client import models as m

T = TypeVar("T")
Instant = str | datetime
UNSET: Any = object()


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and how to read its answer."""

    method: str
    path: str
    read: Callable[[Any], T]
    params: Mapping[str, str] = field(default_factory=dict)
    body: Any = UNSET
    headers: Mapping[str, str] = field(default_factory=dict)
    safe: bool = False

    def content(self) -> bytes | None:
        """The JSON body as bytes (NaN and infinities are a `ValueError`), or None."""
        if self.body is UNSET:
            return None
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()

    def request_headers(self) -> dict[str, str]:
        """This call's own headers, plus `content-type` when it has a body."""
        headers = dict(self.headers)
        if self.body is not UNSET:
            headers["content-type"] = "application/json"
        return headers


# ---- reading answers ----


def _model(model: type[T]) -> Callable[[Any], T]:
    adapter = TypeAdapter(model)
    return adapter.validate_python


def _items(model: type[T]) -> Callable[[Any], list[T]]:
    adapter = TypeAdapter(list[model])  # type: ignore[valid-type]
    return lambda data: adapter.validate_python(data["items"])


def _nothing(_: Any) -> None:
    return None


def _batch(data: Any) -> list[m.BatchItem]:
    return [m.parse_batch_item(item) for item in data["items"]]


def _health(data: Any) -> dict[str, Any]:
    return dict(data)


# ---- building requests ----


def segment(value: str) -> str:
    """An id as one path segment (percent-encoded); an empty id is a `ValueError`."""
    if not value:
        raise ValueError("an id must not be empty")
    return quote(value, safe="")


def instant(value: Instant) -> str:
    """RFC 3339 text of a time: strings pass through (the server validates), datetimes need a zone."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a datetime needs a timezone (use datetime.now(UTC) or similar)")
        return value.isoformat(timespec="milliseconds")
    return value


def query(**values: Any) -> dict[str, str]:
    """Query parameters without the None ones; times and dates as text."""
    out: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            out[name] = instant(value)
        elif isinstance(value, date):
            out[name] = value.isoformat()
        else:
            out[name] = str(value)
    return out


def _drop_none(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def new_idempotency_key() -> str:
    """A fresh key for a create the caller gave none: it makes retries of that create safe."""
    return str(uuid.uuid4())


def health() -> Call[dict[str, Any]]:
    """`GET /health`."""
    return Call("GET", "/health", _health, safe=True)


def create_tenant(name: str, plan: str | None) -> Call[m.Tenant]:
    """`POST /tenants` (operator key)."""
    return Call("POST", "/tenants", _model(m.Tenant), body=_drop_none(name=name, plan=plan))


def list_tenants(cursor: str | None, limit: int | None) -> Call[m.Page[m.Tenant]]:
    """`GET /tenants` (operator key)."""
    return Call("GET", "/tenants", _model(m.Page[m.Tenant]), query(cursor=cursor, limit=limit), safe=True)


def create_key(name: str, scopes: Iterable[str]) -> Call[m.ApiKey]:
    """`POST /keys`."""
    return Call("POST", "/keys", _model(m.ApiKey), body={"name": name, "scopes": list(scopes)})


def list_keys() -> Call[list[m.ApiKey]]:
    """`GET /keys` (one complete list)."""
    return Call("GET", "/keys", _items(m.ApiKey), safe=True)


def revoke_key(key_id: str) -> Call[None]:
    """`DELETE /keys/{id}`."""
    return Call("DELETE", f"/keys/{segment(key_id)}", _nothing)


def app_fields(
    name: str | None, url: str | None, headers: Mapping[str, str] | None, max_attempts: int | None
) -> dict[str, Any]:
    """The body of an app create or change."""
    body = _drop_none(name=name, url=url)
    if headers is not None:
        body["headers"] = dict(headers)
    if max_attempts is not None:
        body["retry"] = {"maxAttempts": max_attempts}
    return body


def create_app(body: dict[str, Any]) -> Call[m.App]:
    """`POST /apps`."""
    return Call("POST", "/apps", _model(m.App), body=body)


def list_apps(cursor: str | None, limit: int | None) -> Call[m.Page[m.App]]:
    """`GET /apps`."""
    return Call("GET", "/apps", _model(m.Page[m.App]), query(cursor=cursor, limit=limit), safe=True)


def get_app(app_id: str) -> Call[m.App]:
    """`GET /apps/{id}`."""
    return Call("GET", f"/apps/{segment(app_id)}", _model(m.App), safe=True)


def update_app(app_id: str, body: dict[str, Any]) -> Call[m.App]:
    """`PATCH /apps/{id}`."""
    return Call("PATCH", f"/apps/{segment(app_id)}", _model(m.App), body=body)


def delete_app(app_id: str) -> Call[None]:
    """`DELETE /apps/{id}`."""
    return Call("DELETE", f"/apps/{segment(app_id)}", _nothing)


def rotate_secret(app_id: str) -> Call[m.App]:
    """`POST /apps/{id}/rotate-secret`."""
    return Call("POST", f"/apps/{segment(app_id)}/rotate-secret", _model(m.App))


def message_body(
    app_id: str,
    payload: Any,
    *,
    send_at: Instant | None,
    delay_seconds: float | None,
    max_attempts: int | None,
    not_after: Instant | None,
) -> dict[str, Any]:
    """The body of a message create (without its idempotency key)."""
    body = {"appId": app_id, "payload": payload}
    return body | _drop_none(
        sendAt=None if send_at is None else instant(send_at),
        delaySeconds=delay_seconds,
        maxAttempts=max_attempts,
        notAfter=None if not_after is None else instant(not_after),
    )


def send_message(body: dict[str, Any], idempotency_key: str | None) -> Call[m.Message]:
    """`POST /messages` with an `Idempotency-Key` (made here when none is given), so it is safe to retry."""
    key = idempotency_key or new_idempotency_key()
    return Call("POST", "/messages", _model(m.Message), body=body, headers={"idempotency-key": key}, safe=True)


def send_batch(messages: Iterable[Mapping[str, Any]]) -> Call[list[m.BatchItem]]:
    """`POST /messages/batch`; every item without an `idempotencyKey` gets one, so it is safe to retry."""
    items = [
        dict(item) if "idempotencyKey" in item else {**item, "idempotencyKey": new_idempotency_key()}
        for item in messages
    ]
    return Call("POST", "/messages/batch", _batch, body={"messages": items}, safe=True)


def list_messages(
    *,
    app_id: str | None,
    status: str | None,
    send_after: Instant | None,
    send_before: Instant | None,
    cursor: str | None,
    limit: int | None,
    schedule_id: str | None = None,
) -> Call[m.Page[m.Message]]:
    """`GET /messages`."""
    params = query(
        appId=app_id,
        status=status,
        sendAfter=None if send_after is None else instant(send_after),
        sendBefore=None if send_before is None else instant(send_before),
        scheduleId=schedule_id,
        cursor=cursor,
        limit=limit,
    )
    return Call("GET", "/messages", _model(m.Page[m.Message]), params, safe=True)


def get_message(message_id: str) -> Call[m.Message]:
    """`GET /messages/{id}` (with its payload)."""
    return Call("GET", f"/messages/{segment(message_id)}", _model(m.Message), safe=True)


def update_message(
    message_id: str, *, send_at: Instant | None, payload: Any, if_match: str, delay_seconds: float | None = None
) -> Call[m.Message]:
    """`PATCH /messages/{id}` with `If-Match`: a new `sendAt` or `delaySeconds`, and/or the payload."""
    body: dict[str, Any] = {} if send_at is None else {"sendAt": instant(send_at)}
    if delay_seconds is not None:
        body["delaySeconds"] = delay_seconds
    if payload is not UNSET:
        body["payload"] = payload
    path = f"/messages/{segment(message_id)}"
    return Call("PATCH", path, _model(m.Message), body=body, headers={"if-match": if_match})


def cancel_message(message_id: str) -> Call[m.Message]:
    """`DELETE /messages/{id}`."""
    return Call("DELETE", f"/messages/{segment(message_id)}", _model(m.Message))


def redrive_message(message_id: str, send_at: Instant | None) -> Call[m.Message]:
    """`POST /messages/{id}/redrive`, now or at `send_at`."""
    body = UNSET if send_at is None else {"sendAt": instant(send_at)}
    return Call("POST", f"/messages/{segment(message_id)}/redrive", _model(m.Message), body=body)


def list_attempts(message_id: str) -> Call[list[m.Attempt]]:
    """`GET /messages/{id}/attempts`, oldest first."""
    return Call("GET", f"/messages/{segment(message_id)}/attempts", _items(m.Attempt), safe=True)


def attempts_feed(after: str | None, app_id: str | None, limit: int | None) -> Call[m.AttemptFeed]:
    """`GET /attempts`."""
    params = query(after=after, appId=app_id, limit=limit)
    return Call("GET", "/attempts", _model(m.AttemptFeed), params, safe=True)


def usage(from_date: date | str | None, to_date: date | str | None) -> Call[list[m.UsageDay]]:
    """`GET /usage`: the days."""
    return Call("GET", "/usage", _items(m.UsageDay), query(**{"from": from_date, "to": to_date}), safe=True)


def usage_report(from_date: date | str | None, to_date: date | str | None) -> Call[m.UsageReport]:
    """`GET /usage`: the days, their period and the plan's limits."""
    return Call("GET", "/usage", _model(m.UsageReport), query(**{"from": from_date, "to": to_date}), safe=True)


# ---- recurring schedules ----


def schedule_fields(
    *,
    app_id: str | None = None,
    payload: Any = UNSET,
    cron: str | None = None,
    every: str | None = None,
    timezone: str | None = None,
    start_at: Instant | None = None,
    end_at: Instant | None = None,
    missed_runs: str | None = None,
) -> dict[str, Any]:
    """The body of a schedule create or change (only the fields given)."""
    body = _drop_none(
        appId=app_id,
        cron=cron,
        every=every,
        timezone=timezone,
        startAt=None if start_at is None else instant(start_at),
        endAt=None if end_at is None else instant(end_at),
        missedRuns=missed_runs,
    )
    if payload is not UNSET:
        body["payload"] = payload
    return body


def create_schedule(body: dict[str, Any]) -> Call[m.Schedule]:
    """`POST /schedules` (not repeated after it may have arrived: a second create is a second schedule)."""
    return Call("POST", "/schedules", _model(m.Schedule), body=body)


def list_schedules(cursor: str | None, limit: int | None) -> Call[m.Page[m.Schedule]]:
    """`GET /schedules`."""
    return Call("GET", "/schedules", _model(m.Page[m.Schedule]), query(cursor=cursor, limit=limit), safe=True)


def get_schedule(schedule_id: str) -> Call[m.Schedule]:
    """`GET /schedules/{id}` (with its payload)."""
    return Call("GET", f"/schedules/{segment(schedule_id)}", _model(m.Schedule), safe=True)


def update_schedule(schedule_id: str, body: dict[str, Any], if_match: str) -> Call[m.Schedule]:
    """`PATCH /schedules/{id}` with `If-Match` (safe to repeat: the etag stops a second change)."""
    path = f"/schedules/{segment(schedule_id)}"
    return Call("PATCH", path, _model(m.Schedule), body=body, headers={"if-match": if_match}, safe=if_match != "*")


def delete_schedule(schedule_id: str) -> Call[None]:
    """`DELETE /schedules/{id}`."""
    return Call("DELETE", f"/schedules/{segment(schedule_id)}", _nothing)


def pause_schedule(schedule_id: str) -> Call[m.Schedule]:
    """`POST /schedules/{id}/pause` (pausing twice is a no-op, so it is safe to repeat)."""
    return Call("POST", f"/schedules/{segment(schedule_id)}/pause", _model(m.Schedule), safe=True)


def resume_schedule(schedule_id: str) -> Call[m.Schedule]:
    """`POST /schedules/{id}/resume` (safe to repeat)."""
    return Call("POST", f"/schedules/{segment(schedule_id)}/resume", _model(m.Schedule), safe=True)

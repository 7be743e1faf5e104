"""Domain objects → the JSON of the contract (DESIGN.md), and nothing more.

Plain dict building, no models: this runs on every response. The response models in
`domain.schemas` document the same shapes, and the functional tests check that they agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from chalice.app import Response

from chalicelib.domain.headers import mask_url_query
from chalicelib.domain.model import ApiKey, App, Attempt, Message, Page, Plan, Principal, Tenant, UsageDay
from chalicelib.domain.recurrence import Schedule, format_every
from chalicelib.domain.times import format_ms, format_optional
from chalicelib.services.usage import Usage

T = TypeVar("T")
MASK = "***"
NO_PAYLOAD = object()


def tenant(value: Tenant, *, admin_key: str | None = None) -> dict[str, Any]:
    """A tenant; `adminKey` only in the response that created it."""
    out: dict[str, Any] = {
        "id": value.id,
        "name": value.name,
        "plan": value.plan,
        "createdAt": format_ms(value.created_at),
    }
    if admin_key is not None:
        out["adminKey"] = admin_key
    return out


def key(value: ApiKey, *, token: str | None = None) -> dict[str, Any]:
    """An API key, never its token except in the response that created it."""
    out: dict[str, Any] = {
        "id": value.id,
        "name": value.name,
        "scopes": sorted(scope.value for scope in value.scopes),
        "createdAt": format_ms(value.created_at),
    }
    if token is not None:
        out["key"] = token
    return out


def caller(value: Principal, plan: Plan) -> dict[str, Any]:
    """Who the token belongs to and what it may do: tenant, key, scopes, and the plan's limits."""
    return {
        "tenantId": value.tenant_id,
        "keyId": value.key_id,
        "scopes": sorted(scope.value for scope in value.scopes),
        "plan": plan_limits(plan, name=value.plan or plan.name),
    }


def app(value: App, *, with_secret: bool = False) -> dict[str, Any]:
    """An app with its header values and URL query values masked (write-only, for every key); the current
    signing secret only on create and rotate."""
    out: dict[str, Any] = {
        "id": value.id,
        "name": value.name,
        "url": mask_url_query(value.url),
        "headers": dict.fromkeys(value.headers, MASK),
        "retry": {
            "maxAttempts": value.retry.max_attempts,
            "scheduleSeconds": [step / 1000 for step in value.retry.schedule_ms],
            "jitter": value.retry.jitter,
            "maxRetryAfterSeconds": value.retry.max_retry_after_ms / 1000,
        },
        "createdAt": format_ms(value.created_at),
    }
    if with_secret:
        out["signingSecret"] = value.secrets[0].value
    return out


def message(value: Message, payload: Any = NO_PAYLOAD) -> dict[str, Any]:
    """A message; its payload only when given (the single GET)."""
    out: dict[str, Any] = {
        "id": value.id,
        "appId": value.app_id,
        "status": value.status.value,
        "sendAt": format_ms(value.send_at),
        "createdAt": format_ms(value.created_at),
        "attempts": value.attempts,
        "roundAttempts": value.round_attempts,
        "maxAttempts": value.max_attempts,
        "nextAttemptAt": format_optional(value.next_attempt_at),
        "deliveredAt": format_optional(value.delivered_at),
        "lateMs": value.late_ms,
        "failureReason": None if value.failure_reason is None else value.failure_reason.value,
        "notAfter": format_optional(value.not_after),
        "etag": value.etag,
    }
    if value.schedule_id is not None:  # only on the runs of a recurring schedule
        out["scheduleId"] = value.schedule_id
    if payload is not NO_PAYLOAD:
        out["payload"] = payload
    return out


def schedule(value: Schedule, payload: Any = NO_PAYLOAD) -> dict[str, Any]:
    """A recurring schedule; its payload only when given (create, change, the single GET)."""
    out: dict[str, Any] = {
        "id": value.id,
        "appId": value.app_id,
        "cron": value.cron,
        "every": None if value.every_ms is None else format_every(value.every_ms),
        "timezone": value.timezone,
        "startAt": format_optional(value.start_at),
        "endAt": format_optional(value.end_at),
        "missedRuns": value.missed_runs.value,
        "state": value.state.value,
        "nextRunAt": format_optional(value.next_run_at),
        "lastRunAt": format_optional(value.last_run_at),
        "skippedCount": value.skipped_count,
        "createdAt": format_ms(value.created_at),
        "updatedAt": format_ms(value.updated_at),
        "etag": value.etag,
    }
    if payload is not NO_PAYLOAD:
        out["payload"] = payload
    return out


def attempt(value: Attempt) -> dict[str, Any]:
    """One delivery attempt."""
    return {
        "n": value.n,
        "messageId": value.message_id,
        "appId": value.app_id,
        "startedAt": format_ms(value.started_at),
        "durationMs": value.duration_ms,
        "statusCode": value.status_code,
        "error": value.error,
        "responseSnippet": value.response_snippet,
    }


def usage_day(value: UsageDay) -> dict[str, Any]:
    """One tenant-day of counters."""
    return {
        "date": value.date,
        "scheduled": value.scheduled,
        "delivered": value.delivered,
        "failed": value.failed,
        "attempts": value.attempts,
    }


def usage(value: Usage) -> dict[str, Any]:
    """`GET /usage`: the days, the period they cover, and the plan's limits (null = no limit)."""
    return {
        "items": [usage_day(day) for day in value.days],
        "from": value.first_day,
        "to": value.last_day,
        "plan": plan_limits(value.plan, name=value.plan_name),
        "schedules": value.schedules,
    }


def plan_limits(value: Plan, *, name: str | None = None) -> dict[str, Any]:
    """A plan's limits (null: no limit); `name` is the tenant's plan when it fell back to the default's limits."""
    return {
        "name": name or value.name,
        "ratePerSecond": value.rate_per_s,
        "burst": value.burst,
        "dailyQuota": value.daily_quota,
        "maxApps": value.max_apps,
        "maxHeadersPerApp": value.max_headers,
        "maxHeaderBytesPerApp": value.max_header_bytes,
        "maxSchedules": value.max_schedules,
        "minIntervalSeconds": value.min_interval_s,
        "maxApiKeys": value.max_api_keys,
    }


def page(value: Page[T], item: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """`{"items": [...], "nextCursor": ...}`."""
    return {"items": [item(entry) for entry in value.items], "nextCursor": value.next_cursor}


def feed(value: Page[T], item: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """A page of a feed: also `resumeCursor`, where to poll from once `nextCursor` is null."""
    out = page(value, item)
    out["resumeCursor"] = value.resume_cursor
    return out


def items(values: Iterable[T], item: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """A complete (unpaginated) list in the list shape."""
    return {"items": [item(entry) for entry in values], "nextCursor": None}


def response(body: Any, status: int = 200, headers: dict[str, str | list[str]] | None = None) -> Response:
    """A JSON response (Chalice serializes `body`)."""
    merged: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    if headers:
        merged.update(headers)
    return Response(body=body, status_code=status, headers=merged)

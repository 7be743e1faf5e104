"""`SchedulerClient`: the blocking client of the scheduler API (httpx), with typed results and retries.

with SchedulerClient("http://127.0.0.1:8000", api_key) as client:
    app = client.create_app("orders", "https://example.com/hooks")
    message = client.send_message(app.id, {"order": 42}, delay_seconds=90)
    for item in client.iter_messages(app_id=app.id, status="scheduled"):
        ...
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from typing import Any, TypeVar

import httpx

from scheduler_client import calls
from scheduler_client import models as m
from scheduler_client.answers import read_response
from scheduler_client.base import DEFAULT_TIMEOUT_S, Connection, describe, may_have_arrived
from scheduler_client.calls import UNSET, Call, Instant
from scheduler_client.config import resolve
from scheduler_client.errors import SchedulerConnectionError
from scheduler_client.feed import Follower, end_of_feed_call
from scheduler_client.retry import RetryPolicy
from scheduler_client.schedules import SchedulesMixin

T = TypeVar("T")
__all__ = ["SchedulerClient"]


class SchedulerClient(SchedulesMixin):
    """A blocking client. Errors are `SchedulerAPIError` (the API said no) or `SchedulerConnectionError`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        trust_env: bool = True,
    ) -> None:
        self.connection = Connection(base_url, api_key, timeout_s, retry or RetryPolicy())
        self._sleep = sleep
        self._http = httpx.Client(timeout=timeout_s, transport=transport, trust_env=trust_env)

    @classmethod
    def from_env(cls, profile: str | None = None, **options: Any) -> SchedulerClient:
        """A client for the URL and API key of the environment or a config profile (see `client.config`)."""
        settings = resolve(profile=profile)
        return cls(settings.url, settings.api_key, **options)

    def __enter__(self) -> SchedulerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def run(self, call: Call[T]) -> T:
        """Send `call`, retrying per the policy, and return its typed result."""
        policy, attempt = self.connection.retry, 0
        while True:
            attempt += 1
            try:
                response = self._send(call)
            except httpx.TransportError as exc:
                wait = policy.delay_for_transport_error(attempt=attempt, safe=call.safe, sent=may_have_arrived(exc))
                if wait is None:
                    raise SchedulerConnectionError(self.connection.base_url, describe(exc)) from exc
            else:
                wait = None
                if response.status_code >= 400:
                    wait = policy.delay_for_status(
                        response.status_code, response.headers, attempt=attempt, safe=call.safe
                    )
                if wait is None:
                    return read_response(call, response)
            self._sleep(wait)

    def _send(self, call: Call[Any]) -> httpx.Response:
        return self._http.request(
            call.method,
            self.connection.url(call.path),
            params=call.params,
            content=call.content(),
            headers={**self.connection.headers(), **call.request_headers()},
        )

    # ---- meta and tenants ----

    def health(self) -> dict[str, Any]:
        """`{"status": "ok"}` when the server answers."""
        return self.run(calls.health())

    def create_tenant(self, name: str, *, plan: str | None = None) -> m.Tenant:
        """A new tenant with its admin key (`adminKey`, shown once); needs the operator key as `api_key`."""
        return self.run(calls.create_tenant(name, plan))

    def list_tenants(self, *, cursor: str | None = None, limit: int | None = None) -> m.Page[m.Tenant]:
        """One page of tenants (operator key)."""
        return self.run(calls.list_tenants(cursor, limit))

    def iter_tenants(self, *, page_size: int | None = None) -> Iterator[m.Tenant]:
        """Every tenant, page by page (operator key)."""
        return self._iterate(lambda cursor: calls.list_tenants(cursor, page_size))

    # ---- keys ----

    def create_key(self, name: str, scopes: Iterable[str]) -> m.ApiKey:
        """A new API key; its token (`key`) is in this result only."""
        return self.run(calls.create_key(name, scopes))

    def list_keys(self) -> list[m.ApiKey]:
        """The tenant's live keys (never their tokens)."""
        return self.run(calls.list_keys())

    def revoke_key(self, key_id: str) -> None:
        """Revoke a key; it stops working at once."""
        self.run(calls.revoke_key(key_id))

    # ---- apps ----

    def create_app(
        self, name: str, url: str, *, headers: Mapping[str, str] | None = None, max_attempts: int | None = None
    ) -> m.App:
        """A new delivery target; its `signingSecret` is in this result (and on rotate) only."""
        return self.run(calls.create_app(calls.app_fields(name, url, headers, max_attempts)))

    def list_apps(self, *, cursor: str | None = None, limit: int | None = None) -> m.Page[m.App]:
        """One page of apps."""
        return self.run(calls.list_apps(cursor, limit))

    def iter_apps(self, *, page_size: int | None = None) -> Iterator[m.App]:
        """Every app, page by page."""
        return self._iterate(lambda cursor: calls.list_apps(cursor, page_size))

    def get_app(self, app_id: str) -> m.App:
        """One app (without its secret)."""
        return self.run(calls.get_app(app_id))

    def update_app(
        self,
        app_id: str,
        *,
        name: str | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        max_attempts: int | None = None,
    ) -> m.App:
        """Change an app; `headers` replaces the whole set."""
        return self.run(calls.update_app(app_id, calls.app_fields(name, url, headers, max_attempts)))

    def delete_app(self, app_id: str) -> None:
        """Delete an app; its pending messages are cancelled."""
        self.run(calls.delete_app(app_id))

    def rotate_secret(self, app_id: str) -> m.App:
        """A new signing secret (in the result); the old one keeps signing for 24 h."""
        return self.run(calls.rotate_secret(app_id))

    # ---- messages ----

    def send_message(
        self,
        app_id: str,
        payload: Any,
        *,
        send_at: Instant | None = None,
        delay_seconds: float | None = None,
        idempotency_key: str | None = None,
        max_attempts: int | None = None,
        not_after: Instant | None = None,
    ) -> m.Message:
        """Schedule one message at `send_at` or after `delay_seconds`; safe to retry (idempotency key)."""
        body = calls.message_body(
            app_id,
            payload,
            send_at=send_at,
            delay_seconds=delay_seconds,
            max_attempts=max_attempts,
            not_after=not_after,
        )
        return self.run(calls.send_message(body, idempotency_key))

    def send_batch(self, messages: Iterable[Mapping[str, Any]]) -> list[m.BatchItem]:
        """Schedule 1-100 messages (create bodies, camelCase); each result is a `Message` or an `ErrorBody`."""
        return self.run(calls.send_batch(messages))

    def list_messages(
        self,
        *,
        app_id: str | None = None,
        status: str | None = None,
        send_after: Instant | None = None,
        send_before: Instant | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        schedule_id: str | None = None,
    ) -> m.Page[m.Message]:
        """One page of messages, by `sendAt` then id."""
        return self.run(
            calls.list_messages(
                app_id=app_id,
                status=status,
                send_after=send_after,
                send_before=send_before,
                cursor=cursor,
                limit=limit,
                schedule_id=schedule_id,
            )
        )

    def iter_messages(
        self,
        *,
        app_id: str | None = None,
        status: str | None = None,
        send_after: Instant | None = None,
        send_before: Instant | None = None,
        page_size: int | None = None,
        schedule_id: str | None = None,
    ) -> Iterator[m.Message]:
        """Every matching message, following `nextCursor` until it is null."""
        return self._iterate(
            lambda cursor: calls.list_messages(
                app_id=app_id,
                status=status,
                send_after=send_after,
                send_before=send_before,
                cursor=cursor,
                limit=page_size,
                schedule_id=schedule_id,
            )
        )

    def get_message(self, message_id: str) -> m.Message:
        """One message, with its payload."""
        return self.run(calls.get_message(message_id))

    def update_message(
        self,
        message_id: str,
        *,
        send_at: Instant | None = None,
        delay_seconds: float | None = None,
        payload: Any = UNSET,
        if_match: str = "*",
    ) -> m.Message:
        """Move a scheduled message (to `send_at`, or `delay_seconds` from now) and/or change its payload;
        `if_match` is its `etag` (or `*`)."""
        call = calls.update_message(
            message_id, send_at=send_at, delay_seconds=delay_seconds, payload=payload, if_match=if_match
        )
        return self.run(call)

    def cancel_message(self, message_id: str) -> m.Message:
        """Cancel a scheduled message."""
        return self.run(calls.cancel_message(message_id))

    def redrive_message(self, message_id: str, *, send_at: Instant | None = None) -> m.Message:
        """Schedule a failed or cancelled message again, now or at `send_at`."""
        return self.run(calls.redrive_message(message_id, send_at))

    def list_attempts(self, message_id: str) -> list[m.Attempt]:
        """A message's attempts, oldest first."""
        return self.run(calls.list_attempts(message_id))

    # ---- attempts feed and usage ----

    def attempts_feed(
        self, *, after: str | None = None, app_id: str | None = None, limit: int | None = None
    ) -> m.AttemptFeed:
        """One page of recent attempts of all messages after the cursor `after`."""
        return self.run(calls.attempts_feed(after, app_id, limit))

    def attempts_end_cursor(self, *, app_id: str | None = None) -> str:
        """The feed position after the newest attempt recorded so far (to follow only new ones)."""
        return self.run(end_of_feed_call(app_id)).resumeCursor

    def follow_attempts(
        self,
        *,
        after: str | None = None,
        app_id: str | None = None,
        from_start: bool = False,
        poll_interval_s: float = 1.0,
        idle_timeout_s: float | None = None,
    ) -> Iterator[m.Attempt]:
        """Attempts as they are recorded: from `after`, else from the start or (default) from now on.

        Polls every `poll_interval_s` once caught up; ends after `idle_timeout_s` without a new attempt.
        """
        if after is None and not from_start:
            after = self.attempts_end_cursor(app_id=app_id)
        follower = Follower(after, app_id, poll_interval_s, idle_timeout_s)
        while True:
            page = self.run(follower.call())
            yield from page.items
            wait = follower.advance(page)
            if wait is None:
                return
            if wait:
                self._sleep(wait)

    def usage(self, *, from_date: date | str | None = None, to_date: date | str | None = None) -> list[m.UsageDay]:
        """Counters per UTC day: every day from `from_date` to `to_date`, by default the days with activity in
        the last 30."""
        return self.run(calls.usage(from_date, to_date))

    def usage_report(self, *, from_date: date | str | None = None, to_date: date | str | None = None) -> m.UsageReport:
        """`usage`, with the period it covers and the limits of the caller's plan."""
        return self.run(calls.usage_report(from_date, to_date))

    def _iterate(self, page_call: Callable[[str | None], Call[m.Page[T]]]) -> Iterator[T]:
        cursor: str | None = None
        while True:
            page = self.run(page_call(cursor))
            yield from page.items
            if not page.nextCursor:
                return
            cursor = page.nextCursor

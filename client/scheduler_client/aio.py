"""`AsyncSchedulerClient`: the asyncio twin of `SchedulerClient` (same methods, awaited).

async with AsyncSchedulerClient("http://127.0.0.1:8000", api_key) as client:
    app = await client.create_app("orders", "https://example.com/hooks")
    message = await client.send_message(app.id, {"order": 42}, delay_seconds=90)
    async for item in client.iter_messages(app_id=app.id, status="scheduled"):
        ...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
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
from scheduler_client.schedules import AsyncSchedulesMixin

T = TypeVar("T")
__all__ = ["AsyncSchedulerClient"]


class AsyncSchedulerClient(AsyncSchedulesMixin):
    """An asyncio client. Errors are `SchedulerAPIError` (the API said no) or `SchedulerConnectionError`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        trust_env: bool = True,
    ) -> None:
        self.connection = Connection(base_url, api_key, timeout_s, retry or RetryPolicy())
        self._sleep = sleep
        self._http = httpx.AsyncClient(timeout=timeout_s, transport=transport, trust_env=trust_env)

    @classmethod
    def from_env(cls, profile: str | None = None, **options: Any) -> AsyncSchedulerClient:
        """A client for the URL and API key of the environment or a config profile (see `client.config`)."""
        settings = resolve(profile=profile)
        return cls(settings.url, settings.api_key, **options)

    async def __aenter__(self) -> AsyncSchedulerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def run(self, call: Call[T]) -> T:
        """Send `call`, retrying per the policy, and return its typed result."""
        policy, attempt = self.connection.retry, 0
        while True:
            attempt += 1
            try:
                response = await self._send(call)
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
            await self._sleep(wait)

    async def _send(self, call: Call[Any]) -> httpx.Response:
        return await self._http.request(
            call.method,
            self.connection.url(call.path),
            params=call.params,
            content=call.content(),
            headers={**self.connection.headers(), **call.request_headers()},
        )

    # ---- meta and tenants ----

    async def health(self) -> dict[str, Any]:
        """`{"status": "ok"}` when the server answers."""
        return await self.run(calls.health())

    async def create_tenant(self, name: str, *, plan: str | None = None) -> m.Tenant:
        """A new tenant with its admin key (`adminKey`, shown once); needs the operator key as `api_key`."""
        return await self.run(calls.create_tenant(name, plan))

    async def list_tenants(self, *, cursor: str | None = None, limit: int | None = None) -> m.Page[m.Tenant]:
        """One page of tenants (operator key)."""
        return await self.run(calls.list_tenants(cursor, limit))

    def iter_tenants(self, *, page_size: int | None = None) -> AsyncIterator[m.Tenant]:
        """Every tenant, page by page (operator key)."""
        return self._iterate(lambda cursor: calls.list_tenants(cursor, page_size))

    # ---- keys ----

    async def create_key(self, name: str, scopes: Iterable[str]) -> m.ApiKey:
        """A new API key; its token (`key`) is in this result only."""
        return await self.run(calls.create_key(name, scopes))

    async def list_keys(self) -> list[m.ApiKey]:
        """The tenant's live keys (never their tokens)."""
        return await self.run(calls.list_keys())

    async def revoke_key(self, key_id: str) -> None:
        """Revoke a key; it stops working at once."""
        await self.run(calls.revoke_key(key_id))

    # ---- apps ----

    async def create_app(
        self, name: str, url: str, *, headers: Mapping[str, str] | None = None, max_attempts: int | None = None
    ) -> m.App:
        """A new delivery target; its `signingSecret` is in this result (and on rotate) only."""
        return await self.run(calls.create_app(calls.app_fields(name, url, headers, max_attempts)))

    async def list_apps(self, *, cursor: str | None = None, limit: int | None = None) -> m.Page[m.App]:
        """One page of apps."""
        return await self.run(calls.list_apps(cursor, limit))

    def iter_apps(self, *, page_size: int | None = None) -> AsyncIterator[m.App]:
        """Every app, page by page."""
        return self._iterate(lambda cursor: calls.list_apps(cursor, page_size))

    async def get_app(self, app_id: str) -> m.App:
        """One app (without its secret)."""
        return await self.run(calls.get_app(app_id))

    async def update_app(
        self,
        app_id: str,
        *,
        name: str | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        max_attempts: int | None = None,
    ) -> m.App:
        """Change an app; `headers` replaces the whole set."""
        return await self.run(calls.update_app(app_id, calls.app_fields(name, url, headers, max_attempts)))

    async def delete_app(self, app_id: str) -> None:
        """Delete an app; its pending messages are cancelled."""
        await self.run(calls.delete_app(app_id))

    async def rotate_secret(self, app_id: str) -> m.App:
        """A new signing secret (in the result); the old one keeps signing for 24 h."""
        return await self.run(calls.rotate_secret(app_id))

    # ---- messages ----

    async def send_message(
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
        return await self.run(calls.send_message(body, idempotency_key))

    async def send_batch(self, messages: Iterable[Mapping[str, Any]]) -> list[m.BatchItem]:
        """Schedule 1-100 messages (create bodies, camelCase); each result is a `Message` or an `ErrorBody`."""
        return await self.run(calls.send_batch(messages))

    async def list_messages(
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
        return await self.run(
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
    ) -> AsyncIterator[m.Message]:
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

    async def get_message(self, message_id: str) -> m.Message:
        """One message, with its payload."""
        return await self.run(calls.get_message(message_id))

    async def update_message(
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
        return await self.run(call)

    async def cancel_message(self, message_id: str) -> m.Message:
        """Cancel a scheduled message."""
        return await self.run(calls.cancel_message(message_id))

    async def redrive_message(self, message_id: str, *, send_at: Instant | None = None) -> m.Message:
        """Schedule a failed or cancelled message again, now or at `send_at`."""
        return await self.run(calls.redrive_message(message_id, send_at))

    async def list_attempts(self, message_id: str) -> list[m.Attempt]:
        """A message's attempts, oldest first."""
        return await self.run(calls.list_attempts(message_id))

    # ---- attempts feed and usage ----

    async def attempts_feed(
        self, *, after: str | None = None, app_id: str | None = None, limit: int | None = None
    ) -> m.AttemptFeed:
        """One page of recent attempts of all messages after the cursor `after`."""
        return await self.run(calls.attempts_feed(after, app_id, limit))

    async def attempts_end_cursor(self, *, app_id: str | None = None) -> str:
        """The feed position after the newest attempt recorded so far (to follow only new ones)."""
        return (await self.run(end_of_feed_call(app_id))).resumeCursor

    async def follow_attempts(
        self,
        *,
        after: str | None = None,
        app_id: str | None = None,
        from_start: bool = False,
        poll_interval_s: float = 1.0,
        idle_timeout_s: float | None = None,
    ) -> AsyncIterator[m.Attempt]:
        """Attempts as they are recorded: from `after`, else from the start or (default) from now on.

        Polls every `poll_interval_s` once caught up; ends after `idle_timeout_s` without a new attempt.
        """
        if after is None and not from_start:
            after = await self.attempts_end_cursor(app_id=app_id)
        follower = Follower(after, app_id, poll_interval_s, idle_timeout_s)
        while True:
            page = await self.run(follower.call())
            for item in page.items:
                yield item
            wait = follower.advance(page)
            if wait is None:
                return
            if wait:
                await self._sleep(wait)

    async def usage(
        self, *, from_date: date | str | None = None, to_date: date | str | None = None
    ) -> list[m.UsageDay]:
        """Counters per UTC day: every day from `from_date` to `to_date`, by default the days with activity in
        the last 30."""
        return await self.run(calls.usage(from_date, to_date))

    async def usage_report(
        self, *, from_date: date | str | None = None, to_date: date | str | None = None
    ) -> m.UsageReport:
        """`usage`, with the period it covers and the limits of the caller's plan."""
        return await self.run(calls.usage_report(from_date, to_date))

    async def _iterate(self, page_call: Callable[[str | None], Call[m.Page[T]]]) -> AsyncIterator[T]:
        cursor: str | None = None
        while True:
            page = await self.run(page_call(cursor))
            for item in page.items:
                yield item
            if not page.nextCursor:
                return
            cursor = page.nextCursor

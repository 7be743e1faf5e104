"""The recurring-schedule methods of both clients (`SchedulerClient` and `AsyncSchedulerClient` mix these in).

schedule = client.create_schedule(app_id, {"report": "daily"}, cron="0 9 * * MON-FRI", timezone="Europe/Berlin")
client.pause_schedule(schedule.id)
runs = client.list_messages(schedule_id=schedule.id)     # each run is an ordinary message
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

from scheduler_client import calls
from scheduler_client import models as m
from scheduler_client.calls import UNSET, Call, Instant

T = TypeVar("T")


class SchedulesMixin:
    """`/schedules` for the blocking client."""

    run: Callable[[Call[Any]], Any]
    _iterate: Callable[[Callable[[str | None], Call[m.Page[Any]]]], Iterator[Any]]

    def create_schedule(
        self,
        app_id: str,
        payload: Any,
        *,
        cron: str | None = None,
        every: str | None = None,
        timezone: str | None = None,
        start_at: Instant | None = None,
        end_at: Instant | None = None,
        missed_runs: str | None = None,
    ) -> m.Schedule:
        """A recurring schedule: `cron` (5 fields, on the wall clock of `timezone`) or `every` (`15m`, `1h30m`)."""
        body = calls.schedule_fields(
            app_id=app_id,
            payload=payload,
            cron=cron,
            every=every,
            timezone=timezone,
            start_at=start_at,
            end_at=end_at,
            missed_runs=missed_runs,
        )
        result: m.Schedule = self.run(calls.create_schedule(body))
        return result

    def list_schedules(self, *, cursor: str | None = None, limit: int | None = None) -> m.Page[m.Schedule]:
        """One page of schedules, by id."""
        result: m.Page[m.Schedule] = self.run(calls.list_schedules(cursor, limit))
        return result

    def iter_schedules(self, *, page_size: int | None = None) -> Iterator[m.Schedule]:
        """Every schedule, page by page."""
        return self._iterate(lambda cursor: calls.list_schedules(cursor, page_size))

    def get_schedule(self, schedule_id: str) -> m.Schedule:
        """One schedule, with its payload."""
        result: m.Schedule = self.run(calls.get_schedule(schedule_id))
        return result

    def update_schedule(
        self, schedule_id: str, *, if_match: str = "*", payload: Any = UNSET, **fields: Any
    ) -> m.Schedule:
        """Change a schedule (`cron`, `every`, `timezone`, `start_at`, `end_at`, `missed_runs`, `app_id`,
        `payload`); `if_match` is its `etag` (or `*`)."""
        body = calls.schedule_fields(payload=payload, **fields)
        result: m.Schedule = self.run(calls.update_schedule(schedule_id, body, if_match))
        return result

    def delete_schedule(self, schedule_id: str) -> None:
        """Delete a schedule; runs not yet due are cancelled, earlier runs stay."""
        self.run(calls.delete_schedule(schedule_id))

    def pause_schedule(self, schedule_id: str) -> m.Schedule:
        """No runs until resumed."""
        result: m.Schedule = self.run(calls.pause_schedule(schedule_id))
        return result

    def resume_schedule(self, schedule_id: str) -> m.Schedule:
        """Runs again from the next run time after now."""
        result: m.Schedule = self.run(calls.resume_schedule(schedule_id))
        return result


class AsyncSchedulesMixin:
    """`/schedules` for the asyncio client."""

    run: Callable[[Call[Any]], Awaitable[Any]]
    _iterate: Callable[[Callable[[str | None], Call[m.Page[Any]]]], AsyncIterator[Any]]

    async def create_schedule(
        self,
        app_id: str,
        payload: Any,
        *,
        cron: str | None = None,
        every: str | None = None,
        timezone: str | None = None,
        start_at: Instant | None = None,
        end_at: Instant | None = None,
        missed_runs: str | None = None,
    ) -> m.Schedule:
        """A recurring schedule: `cron` (5 fields, on the wall clock of `timezone`) or `every` (`15m`, `1h30m`)."""
        body = calls.schedule_fields(
            app_id=app_id,
            payload=payload,
            cron=cron,
            every=every,
            timezone=timezone,
            start_at=start_at,
            end_at=end_at,
            missed_runs=missed_runs,
        )
        result: m.Schedule = await self.run(calls.create_schedule(body))
        return result

    async def list_schedules(self, *, cursor: str | None = None, limit: int | None = None) -> m.Page[m.Schedule]:
        """One page of schedules, by id."""
        result: m.Page[m.Schedule] = await self.run(calls.list_schedules(cursor, limit))
        return result

    def iter_schedules(self, *, page_size: int | None = None) -> AsyncIterator[m.Schedule]:
        """Every schedule, page by page."""
        return self._iterate(lambda cursor: calls.list_schedules(cursor, page_size))

    async def get_schedule(self, schedule_id: str) -> m.Schedule:
        """One schedule, with its payload."""
        result: m.Schedule = await self.run(calls.get_schedule(schedule_id))
        return result

    async def update_schedule(
        self, schedule_id: str, *, if_match: str = "*", payload: Any = UNSET, **fields: Any
    ) -> m.Schedule:
        """Change a schedule (see `SchedulesMixin.update_schedule`)."""
        body = calls.schedule_fields(payload=payload, **fields)
        result: m.Schedule = await self.run(calls.update_schedule(schedule_id, body, if_match))
        return result

    async def delete_schedule(self, schedule_id: str) -> None:
        """Delete a schedule; runs not yet due are cancelled, earlier runs stay."""
        await self.run(calls.delete_schedule(schedule_id))

    async def pause_schedule(self, schedule_id: str) -> m.Schedule:
        """No runs until resumed."""
        result: m.Schedule = await self.run(calls.pause_schedule(schedule_id))
        return result

    async def resume_schedule(self, schedule_id: str) -> m.Schedule:
        """Runs again from the next run time after now."""
        result: m.Schedule = await self.run(calls.resume_schedule(schedule_id))
        return result

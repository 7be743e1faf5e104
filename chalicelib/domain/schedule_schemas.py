"""Request and response models of recurring schedules (`/schedules`); they also feed `/openapi.json`.

Shape checks only: what a cron expression, an interval or a zone means is `recurrence`'s to judge,
so its errors name the field and say what would be valid.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from chalicelib.domain.schemas import Strict, Timestamp, _instant

MissedRunsName = Literal["skip", "once", "all"]
Cron = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="5-field cron (minute hour day-of-month month day-of-week; names, ranges, lists, steps, L, #)"
        " read on the wall clock of `timezone`",
    ),
]
Every = Annotated[str, Field(min_length=1, max_length=32, description="an interval: 30s, 15m, 1h30m, 1d or PT15M")]
Zone = Annotated[str, Field(min_length=1, max_length=64, description="IANA time zone, like Europe/Berlin")]
Payload = Annotated[Any, Field(description="any JSON value, at most 256 KiB serialized; each run delivers it")]
MISSED_RUNS_HELP = "runs that fell in downtime: skip (none), once (one run now), all (each, at most 100, the latest)"


class ScheduleCreate(Strict):
    """`POST /schedules`: an app, a payload, and `cron` or `every` (one of them)."""

    appId: Annotated[str, Field(min_length=1, max_length=64)]
    payload: Payload
    cron: Cron | None = None
    every: Every | None = None
    timezone: Zone = "UTC"
    startAt: _instant("startAt") | None = None  # type: ignore[valid-type]
    endAt: _instant("endAt") | None = None  # type: ignore[valid-type]
    missedRuns: Annotated[MissedRunsName, Field(description=MISSED_RUNS_HELP)] = "skip"


class SchedulePatch(Strict):
    """`PATCH /schedules/{id}`: any subset; `cron` replaces `every` and the reverse; null clears
    `startAt`/`endAt`."""

    appId: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    payload: Payload = None
    cron: Cron | None = None
    every: Every | None = None
    timezone: Zone | None = None
    startAt: _instant("startAt") | None = None  # type: ignore[valid-type]
    endAt: _instant("endAt") | None = None  # type: ignore[valid-type]
    missedRuns: MissedRunsName | None = None


class ScheduleOut(BaseModel):
    """A recurring schedule; `payload` only on the single GET and on create."""

    id: str
    appId: str
    cron: str | None
    every: str | None
    timezone: str
    startAt: Timestamp | None
    endAt: Timestamp | None
    missedRuns: MissedRunsName
    state: Literal["active", "paused"]
    nextRunAt: Timestamp | None = Field(description="the next run's time; null while paused or once none is left")
    lastRunAt: Timestamp | None
    skippedCount: int = Field(description="runs not created: missed in downtime, over quota, or the app gone")
    createdAt: Timestamp
    updatedAt: Timestamp
    etag: str
    payload: Any = None

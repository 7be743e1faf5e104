"""Typed results of the client: the API's response models, plus pages, the attempt feed and batch items.

The entity models mirror the responses the server documents in `/openapi.json` (the server's
`chalicelib.domain.schemas`; this distribution does not import the server, and
`tests/client/test_client_models.py` holds the two to the same fields), under shorter names. Unknown
fields are ignored, so a newer server does not break an older client. Fields keep the API's camelCase
spelling, so `message.sendAt` reads like the JSON.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApiKey",
    "App",
    "Attempt",
    "AttemptFeed",
    "BatchItem",
    "ErrorBody",
    "Message",
    "Page",
    "Schedule",
    "Tenant",
    "UsageDay",
    "UsageReport",
    "parse_batch_item",
]

T = TypeVar("T")

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class ErrorBody(BaseModel):
    """The error shape of every non-2xx response."""

    code: str
    message: str
    field: str | None = None


class TenantOut(BaseModel):
    """A tenant; `adminKey` only in the response that created it."""

    id: str
    name: str
    plan: str
    createdAt: Timestamp
    adminKey: str | None = None


class KeyOut(BaseModel):
    """An API key; `key` only in the response that created it."""

    id: str
    name: str
    scopes: list[Literal["admin", "send", "read"]]
    createdAt: Timestamp
    key: str | None = None


class RetryOut(BaseModel):
    """The retry policy of an app: default attempts, delays after each failure (the last repeats), their
    jitter, and the cap on a receiver's `Retry-After`."""

    maxAttempts: int
    scheduleSeconds: list[float] | None = None  # None: a server older than the retry policy
    jitter: float | None = None
    maxRetryAfterSeconds: float | None = None


class AppOut(BaseModel):
    """An app; header values are write-only, `signingSecret` only on create and rotate."""

    id: str
    name: str
    url: str
    headers: dict[str, Literal["***"]]
    retry: RetryOut
    createdAt: Timestamp
    signingSecret: str | None = None


class MessageOut(BaseModel):
    """A message; `payload` only on the single GET."""

    id: str
    appId: str
    status: Literal["scheduled", "delivering", "delivered", "failed", "cancelled"]
    sendAt: Timestamp
    createdAt: Timestamp
    attempts: int
    roundAttempts: int | None = None  # since the last redrive (what maxAttempts bounds); None from older servers
    maxAttempts: int
    nextAttemptAt: Timestamp | None
    deliveredAt: Timestamp | None
    lateMs: int | None
    failureReason: Literal["gone", "exhausted", "expired", "app_deleted"] | None
    notAfter: Timestamp | None = None
    scheduleId: str | None = None  # set on the runs of a recurring schedule
    etag: str
    payload: Any = None


class ScheduleOut(BaseModel):
    """A recurring schedule: `cron` (on the wall clock of `timezone`) or `every`; `payload` on the single
    GET, create and change only."""

    id: str
    appId: str
    cron: str | None
    every: str | None
    timezone: str
    startAt: Timestamp | None
    endAt: Timestamp | None
    missedRuns: Literal["skip", "once", "all"]
    state: Literal["active", "paused"]
    nextRunAt: Timestamp | None
    lastRunAt: Timestamp | None
    skippedCount: int
    createdAt: Timestamp
    updatedAt: Timestamp
    etag: str
    payload: Any = None


class AttemptOut(BaseModel):
    """One delivery attempt."""

    n: int
    messageId: str
    appId: str
    startedAt: Timestamp
    durationMs: int
    statusCode: int | None
    error: str | None
    responseSnippet: str


class UsageOut(BaseModel):
    """One tenant-day of counters."""

    date: str
    scheduled: int
    delivered: int
    failed: int
    attempts: int


class PlanOut(BaseModel):
    """A plan's limits, on `GET /usage` and `GET /me` (None = no limit)."""

    name: str
    ratePerSecond: float | None
    burst: int | None
    dailyQuota: int | None
    maxApps: int | None
    maxHeadersPerApp: int | None
    maxHeaderBytesPerApp: int | None
    maxSchedules: int | None = None  # None: no limit, or a server before recurring schedules
    minIntervalSeconds: int | None = None
    maxApiKeys: int | None = None


class UsageReport(BaseModel):
    """`GET /usage`: the days (by default only those with activity), the period they cover, the plan."""

    model_config = ConfigDict(populate_by_name=True)

    items: list[UsageOut]
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    plan: PlanOut | None = None  # None from servers before plans were reported
    schedules: int | None = None  # recurring schedules the tenant has (None from older servers)


Message = MessageOut
App = AppOut
ApiKey = KeyOut
Tenant = TenantOut
Attempt = AttemptOut
UsageDay = UsageOut
Schedule = ScheduleOut
BatchItem = MessageOut | ErrorBody


class Page(BaseModel, Generic[T]):
    """One page of a list: follow `nextCursor` until it is null (a page may be short, even empty)."""

    items: list[T]
    nextCursor: str | None = None


class AttemptFeed(Page[AttemptOut]):
    """A page of `GET /attempts`; once `nextCursor` is null, poll again from `resumeCursor`."""

    resumeCursor: str


def parse_batch_item(item: Any) -> BatchItem:
    """One item of a batch answer: the scheduled message, or the `ErrorBody` of that item."""
    if isinstance(item, dict) and "error" in item:
        return ErrorBody.model_validate(item["error"])
    return MessageOut.model_validate(item)

"""Request and response models: they validate input and generate `/openapi.json`.

Times arrive as RFC 3339 text and leave the models as Unix ms, parsed by `times.parse_instant`
(pydantic's own datetime parsing accepts numbers and naive times, which the contract forbids).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from chalicelib.domain.headers import check_app_url, check_header_set
from chalicelib.domain.policy import (
    BACKOFF_MS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_POLICY,
    JITTER,
    MAX_ATTEMPTS_LIMIT,
    MAX_DELAY_MS,
    MAX_JITTER,
    MAX_RETRY_AFTER_MS,
    MAX_SCHEDULE_STEPS,
    MIN_DELAY_MS,
    RetryPolicy,
)
from chalicelib.domain.times import parse_instant

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_BATCH = 100
MAX_URL_LENGTH = 2048
MAX_APP_HEADERS = 20
MAX_HEADER_VALUE = 4096


def _instant(field: str) -> Any:
    """An RFC 3339 time field, parsed to Unix ms, documented as `date-time`."""
    return Annotated[
        int,
        BeforeValidator(lambda value: parse_instant(value, field=field)),
        WithJsonSchema({"type": "string", "format": "date-time"}),
    ]


class Strict(BaseModel):
    """Unknown fields are a 400."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_max_length=4096)


Name = Annotated[str, Field(min_length=1, max_length=200)]
Url = Annotated[str, Field(max_length=MAX_URL_LENGTH, description="http(s) URL that receives deliveries")]
MaxAttempts = Annotated[int, Field(ge=1, le=MAX_ATTEMPTS_LIMIT, strict=True)]
ScopeName = Literal["admin", "send", "read"]


def check_headers(value: dict[str, str]) -> dict[str, str]:
    """Header names that are valid tokens, values without control characters, none reserved."""
    if len(value) > MAX_APP_HEADERS:
        raise ValueError(f"at most {MAX_APP_HEADERS} headers")
    check_header_set(value)
    return value


class RetrySettings(Strict):
    """The retry policy of an app: attempts a message gets by default, the delays after the 1st, 2nd, ...
    failed attempt (the last repeats), their jitter (a fraction), and the cap on a receiver's `Retry-After`.
    Left out: the contract's policy."""

    maxAttempts: MaxAttempts = DEFAULT_MAX_ATTEMPTS
    scheduleSeconds: Annotated[
        list[Annotated[float, Field(ge=MIN_DELAY_MS / 1000, le=MAX_DELAY_MS / 1000)]],
        Field(min_length=1, max_length=MAX_SCHEDULE_STEPS),
    ] = Field(default_factory=lambda: [ms / 1000 for ms in BACKOFF_MS])
    jitter: Annotated[float, Field(ge=0, le=MAX_JITTER)] = JITTER
    maxRetryAfterSeconds: Annotated[float, Field(ge=0, le=MAX_RETRY_AFTER_MS / 1000)] = MAX_RETRY_AFTER_MS / 1000

    def policy(self, base: RetryPolicy = DEFAULT_POLICY) -> RetryPolicy:
        """The domain value: the fields given here over `base` (a PATCH changes only what it names)."""
        given = self.model_fields_set
        return RetryPolicy(
            schedule_ms=tuple(round(s * 1000) for s in self.scheduleSeconds)
            if "scheduleSeconds" in given
            else base.schedule_ms,
            jitter=self.jitter if "jitter" in given else base.jitter,
            max_attempts=self.maxAttempts if "maxAttempts" in given else base.max_attempts,
            max_retry_after_ms=round(self.maxRetryAfterSeconds * 1000)
            if "maxRetryAfterSeconds" in given
            else base.max_retry_after_ms,
        )


class TenantCreate(Strict):
    """`POST /tenants`."""

    name: Name
    plan: Name | None = None


class KeyCreate(Strict):
    """`POST /keys`."""

    name: Name
    scopes: Annotated[list[ScopeName], Field(min_length=1, max_length=3)]


class AppCreate(Strict):
    """`POST /apps`."""

    name: Name
    url: Url
    headers: dict[str, Annotated[str, Field(max_length=MAX_HEADER_VALUE)]] = Field(default_factory=dict)
    retry: RetrySettings = Field(default_factory=RetrySettings)

    _url = field_validator("url")(check_app_url)
    _headers = field_validator("headers")(check_headers)


class AppPatch(Strict):
    """`PATCH /apps/{appId}`: any subset; `headers` replaces the whole set."""

    name: Name | None = None
    url: Url | None = None
    headers: dict[str, Annotated[str, Field(max_length=MAX_HEADER_VALUE)]] | None = None
    retry: RetrySettings | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_app_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else check_headers(value)


Delay = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True, description="seconds from now; 0 = now")]


class MessageCreate(Strict):
    """`POST /messages` and each item of `POST /messages/batch`."""

    appId: Annotated[str, Field(min_length=1, max_length=64)]
    payload: Annotated[Any, Field(description="any JSON value, at most 256 KiB serialized")]
    sendAt: _instant("sendAt") | None = None  # type: ignore[valid-type]
    delaySeconds: Delay | None = None
    idempotencyKey: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    maxAttempts: MaxAttempts | None = None
    notAfter: _instant("notAfter") | None = None  # type: ignore[valid-type]


class MessageBatch(Strict):
    """`POST /messages/batch`: items are validated one by one, so one bad item fails alone."""

    messages: Annotated[list[Any], Field(min_length=1, max_length=MAX_BATCH)]


class MessagePatch(Strict):
    """`PATCH /messages/{id}`: a new `sendAt` or `delaySeconds` (not both), and/or `payload`."""

    sendAt: _instant("sendAt") | None = None  # type: ignore[valid-type]
    delaySeconds: Delay | None = None
    payload: Any = None


class Redrive(Strict):
    """`POST /messages/{id}/redrive`: when to try again, `sendAt` or `delaySeconds` (default now)."""

    sendAt: _instant("sendAt") | None = None  # type: ignore[valid-type]
    delaySeconds: Delay | None = None


# ---- responses (documented in /openapi.json; tests check real responses against them) ----

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class ErrorBody(BaseModel):
    """The error shape of every non-2xx response."""

    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    """`{"error": {...}}`."""

    error: ErrorBody


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
    scopes: list[ScopeName]
    createdAt: Timestamp
    key: str | None = None


class PlanOut(BaseModel):
    """A plan's limits (null: no limit), on `GET /me` and `GET /usage`."""

    name: str
    ratePerSecond: float | None
    burst: int | None
    dailyQuota: int | None
    maxApps: int | None
    maxHeadersPerApp: int | None
    maxHeaderBytesPerApp: int | None
    maxSchedules: int | None = None
    minIntervalSeconds: int | None = None
    maxApiKeys: int | None = None


class CallerOut(BaseModel):
    """`GET /me`: the calling token's tenant, key (null for a Cognito user), scopes and plan."""

    tenantId: str
    keyId: str | None
    scopes: list[ScopeName]
    plan: PlanOut


class RetryOut(BaseModel):
    """The retry policy of an app, as returned (lenient: a future field must not break clients)."""

    maxAttempts: int
    scheduleSeconds: list[float]
    jitter: float
    maxRetryAfterSeconds: float


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
    attempts: int = Field(description="every attempt made, across redrives")
    roundAttempts: int | None = Field(
        default=None, description="attempts since the last redrive (maxAttempts bounds this count)"
    )
    maxAttempts: int
    nextAttemptAt: Timestamp | None
    deliveredAt: Timestamp | None
    lateMs: int | None
    failureReason: Literal["gone", "exhausted", "expired", "app_deleted"] | None
    notAfter: Timestamp | None = None
    scheduleId: str | None = Field(default=None, description="the recurring schedule this message is a run of")
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

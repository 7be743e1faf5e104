"""One hierarchy of domain errors; `api.errors` maps them to HTTP in one place."""

from __future__ import annotations


class SchedulerError(Exception):
    """Base of every error the service raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(SchedulerError):
    """The request is malformed or a value is out of range."""

    code = "validation_error"


class InvalidJson(InvalidInput):
    """The body is not valid JSON (or holds NaN/Infinity)."""

    code = "invalid_json"


class PlanLimit(InvalidInput):
    """The request would store more than the tenant's plan allows (apps, headers per app, header bytes)."""

    code = "plan_limit"


class PayloadTooLarge(SchedulerError):
    """A payload or the request body is above its size limit."""

    code = "payload_too_large"


class Unauthenticated(SchedulerError):
    """No token, or an unknown or revoked one."""

    code = "unauthorized"


class Forbidden(SchedulerError):
    """The key is valid but lacks the scope the route needs."""

    code = "forbidden"


class NotFound(SchedulerError):
    """The resource does not exist for this tenant (other tenants' resources included)."""

    code = "not_found"


class Conflict(SchedulerError):
    """The request conflicts with the resource's current state."""

    code = "conflict"


class IdempotencyConflict(Conflict):
    """The idempotency key was used before with a different request body."""

    code = "idempotency_conflict"


class WrongState(Conflict):
    """The message is not in a state that allows this operation."""

    code = "wrong_state"


class StaleEtag(Conflict):
    """`If-Match` does not match the message's current etag."""

    code = "etag_mismatch"


class ConcurrentUpdate(Conflict):
    """Another writer changed the resource between our read and our write."""

    code = "concurrent_update"


class PreconditionRequired(SchedulerError):
    """A conditional request arrived without its condition (`If-Match` on `PATCH /messages/{id}`)."""

    code = "precondition_required"


class Throttled(SchedulerError):
    """The tenant is over its rate or daily quota."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class QuotaExceeded(Throttled):
    """The tenant's daily message quota is used up."""

    code = "quota_exceeded"


class StorageUnavailable(SchedulerError):
    """The store cannot take the request now (busy, full, unreachable)."""

    code = "storage_unavailable"

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PartiallyStored(StorageUnavailable):
    """A create too large for one storage transaction stored some of its items before storage failed.

    `stored[i]` is what became of the i-th item (the store's result), or None where nothing was
    written: each item is all or nothing, and the caller reports the ones that failed one by one."""

    def __init__(self, message: str, stored: list[object | None], *, retry_after_s: int = 1) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.stored = stored

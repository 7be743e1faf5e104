"""The access log: one INFO line per request on the `scheduler.access` logger.

`POST /messages 201 3.1ms tenant=ten_01M8…` in text, the same as keys (`method`, `path`, `status`,
`ms`, `tenant`) when `LOG_FORMAT=json`. Only the path is logged, never the query string or a
header: tokens travel in `Authorization` and never reach a log. The tenant is noted by the auth
code once it knows the caller (a context variable, so each server thread has its own).
"""

from __future__ import annotations

import contextvars
import logging

log = logging.getLogger("scheduler.access")
NO_TENANT = "-"

_tenant: contextvars.ContextVar[str] = contextvars.ContextVar("access_tenant", default=NO_TENANT)


def begin() -> contextvars.Token[str]:
    """Start a request: no tenant known yet (returns what `end` needs to restore)."""
    return _tenant.set(NO_TENANT)


def note_tenant(tenant_id: str) -> None:
    """The authenticated caller's tenant, for this request's access line."""
    _tenant.set(tenant_id)


def end(token: contextvars.Token[str]) -> str:
    """Finish a request: the tenant it noted (or `-`)."""
    tenant = _tenant.get()
    _tenant.reset(token)
    return tenant


def log_request(method: str, path: str, status: int, elapsed_ms: float, tenant: str = NO_TENANT) -> None:
    """Write one access line (nothing when INFO is off)."""
    if not log.isEnabledFor(logging.INFO):
        return
    ms = round(elapsed_ms, 1)
    log.info(
        "%s %s %d %.1fms tenant=%s",
        method,
        path,
        status,
        ms,
        tenant,
        extra={"method": method, "path": path, "status": status, "ms": ms, "tenant": tenant},
    )

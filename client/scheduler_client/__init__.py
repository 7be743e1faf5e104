"""A typed Python client of the scheduler API (sync and asyncio) and `verify_delivery` for receivers.

    from scheduler_client import SchedulerClient, SchedulerAPIError

    with SchedulerClient.from_env() as client:       # SCHEDULER_URL / SCHEDULER_API_KEY or a profile
        message = client.send_message(app_id, {"order": 42}, delay_seconds=90)

Requests that get 429 are retried after `Retry-After`; reads and message creation (which always carry
an idempotency key) are also retried after a 5xx or a lost connection. See `client.retry`.

Names are imported on first use, so a webhook receiver that needs only `verify_delivery` loads
`standardwebhooks` and not httpx or pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scheduler_client.aio import AsyncSchedulerClient
    from scheduler_client.config import ConfigError
    from scheduler_client.errors import SchedulerAPIError, SchedulerClientError, SchedulerConnectionError
    from scheduler_client.models import (
        ApiKey,
        App,
        Attempt,
        AttemptFeed,
        BatchItem,
        ErrorBody,
        Message,
        Page,
        Schedule,
        Tenant,
        UsageDay,
    )
    from scheduler_client.retry import RetryPolicy
    from scheduler_client.sync import SchedulerClient
    from scheduler_client.verify import WebhookVerificationError, verify_delivery

_MODULE_OF = {
    "AsyncSchedulerClient": "aio",
    "ConfigError": "config",
    "SchedulerAPIError": "errors",
    "SchedulerClientError": "errors",
    "SchedulerConnectionError": "errors",
    "ApiKey": "models",
    "App": "models",
    "Attempt": "models",
    "AttemptFeed": "models",
    "BatchItem": "models",
    "ErrorBody": "models",
    "Message": "models",
    "Page": "models",
    "Schedule": "models",
    "Tenant": "models",
    "UsageDay": "models",
    "RetryPolicy": "retry",
    "SchedulerClient": "sync",
    "WebhookVerificationError": "verify",
    "verify_delivery": "verify",
}

__all__ = [
    "ApiKey",
    "App",
    "AsyncSchedulerClient",
    "Attempt",
    "AttemptFeed",
    "BatchItem",
    "ConfigError",
    "ErrorBody",
    "Message",
    "Page",
    "RetryPolicy",
    "Schedule",
    "SchedulerAPIError",
    "SchedulerClient",
    "SchedulerClientError",
    "SchedulerConnectionError",
    "Tenant",
    "UsageDay",
    "WebhookVerificationError",
    "verify_delivery",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULE_OF])

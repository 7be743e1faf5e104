"""Powertools Logger, Tracer and Metrics: one lazily made instance each, for every Lambda of the app.

Nothing is built at import: Powertools reads `POWERTOOLS_*` variables in its constructors, and the
local server and the tests import `app.py` with no such environment. Metrics have no tenant
dimension (unbounded cardinality); the tenant and message ids go into log keys instead.

- `lambda_handler`: decorator for `(event, context)` handlers (logger context, tracing, metric flush).
- `message_scope(message_id)`: thread-safe log keys for one record (the message id is the correlation id).
- `metric(name, value)`: add a metric (`Count`, or `Milliseconds` for names ending in `Ms`).
- `install(app)`: an HTTP middleware that flushes the metrics a request added (the API function).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics, Tracer
    from chalice.app import Chalice, Request, Response

Handler = TypeVar("Handler", bound=Callable[..., Any])

SERVICE = "scheduler"
NAMESPACE = "PointInTimeScheduler"
METRIC_NAMES = ("MessagesScheduled", "DeliveryAttempts", "DeliverySucceeded", "DeliveryFailed", "DeliveryLatenessMs")

_lock = threading.Lock()
_pending = threading.Event()  # set once a metric was added and not flushed yet


@functools.cache
def logger() -> Logger:
    """The service's structured logger."""
    from aws_lambda_powertools import Logger

    return Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))


@functools.cache
def tracer() -> Tracer:
    """The X-Ray tracer (disabled outside Lambda)."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))


@functools.cache
def metrics() -> Metrics:
    """CloudWatch metrics in Embedded Metric Format."""
    from aws_lambda_powertools import Metrics

    return Metrics(
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE),
        service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE),
    )


def metric(name: str, value: float = 1) -> None:
    """Add one data point of a metric (flushed at the end of the invocation or request)."""
    from aws_lambda_powertools.metrics import MetricUnit

    unit = MetricUnit.Milliseconds if name.endswith("Ms") else MetricUnit.Count
    with _lock:
        metrics().add_metric(name=name, unit=unit, value=value)
        _pending.set()


def flush() -> None:
    """Publish the metrics added since the last flush (nothing at all when none were)."""
    if not _pending.is_set():
        return
    with _lock:
        _pending.clear()
        if metrics().metric_set:
            metrics().flush_metrics()


@contextlib.contextmanager
def message_scope(message_id: str, **keys: str) -> Iterator[None]:
    """Log keys of one message on this thread: its id is the correlation id."""
    log = logger()
    log.thread_safe_append_keys(correlation_id=message_id, **keys)
    try:
        yield
    finally:
        log.thread_safe_remove_keys(["correlation_id", *keys])


def lambda_handler(handler: Handler) -> Handler:
    """Wrap an `(event, context)` handler with the logger context, tracing and a metric flush."""
    composed: list[Callable[..., Any]] = []

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        if not composed:
            traced = tracer().capture_lambda_handler(handler)
            composed.append(logger().inject_lambda_context(traced, clear_state=True))
        try:
            return composed[0](event, context)
        finally:
            flush()

    return wrapper  # type: ignore[return-value]


def _http_middleware(request: Request, get_response: Callable[[Request], Response]) -> Response:
    try:
        return get_response(request)
    finally:
        flush()


def install(app: Chalice) -> None:
    """Flush metrics after every HTTP request of `app` (cheap when none were added)."""
    app.register_middleware(_http_middleware, "http")

"""Turn what happened on the wire into the short texts of an ``AttemptOutcome``."""

from __future__ import annotations

import email.utils
import socket
import ssl
from collections.abc import Callable
from datetime import UTC
from typing import Any

import aiohttp

from chalicelib.delivery.ssrf import BlockedAddressError

__all__ = ["MAX_RETRY_AFTER_S", "describe_exception", "parse_retry_after", "status_error"]

MAX_RETRY_AFTER_S = 86_400.0
_MAX_DETAIL = 160


def status_error(status: int) -> str | None:
    """Return the outcome error for an HTTP status: ``None`` for 2xx."""
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return "redirect_not_followed"
    return f"http_status: {status}"


def parse_retry_after(value: str | None, *, now_ms: int) -> float | None:
    """Read a ``Retry-After`` value (delta-seconds or HTTP-date) as seconds from ``now_ms``.

    Capped at 24 h; a date in the past gives 0; absent or unreadable gives ``None``.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(min(int(value[:12]), MAX_RETRY_AFTER_S))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when.timestamp() - now_ms / 1000
    return min(max(delta, 0.0), MAX_RETRY_AFTER_S)


def _short(text: object) -> str:
    detail = " ".join(str(text).split())
    return detail[:_MAX_DETAIL] if detail else "unknown"


def _os_error_detail(error: OSError) -> str:
    if isinstance(error, socket.gaierror):
        return f"dns: {_short(error.strerror or error)}"
    if isinstance(error, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(error, ConnectionResetError):
        return "connection_reset"
    if isinstance(error, ConnectionAbortedError):
        return "connection_aborted"
    return _short(error.strerror or error)


def _tls_detail(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return _short(error.verify_message)
    if isinstance(error, ssl.SSLError) and error.reason:
        return _short(error.reason)
    return _short(error)


def _connector_error(exc: aiohttp.ClientConnectorError) -> str:
    os_error = exc.os_error
    if isinstance(os_error, BlockedAddressError):
        return f"blocked_address: {os_error.address}"
    if isinstance(exc, aiohttp.ClientSSLError) or isinstance(os_error, ssl.SSLError):
        return f"tls_error: {_tls_detail(os_error)}"
    return f"connection_error: {_os_error_detail(os_error)}"


def _other_error(exc: BaseException) -> str:
    prefix = "invalid_request" if isinstance(exc, ValueError) else "internal_error"
    return f"{prefix}: {type(exc).__name__}: {_short(exc)}"


# First match wins: the order matters (a ClientConnectorError is also an OSError, ...).
_DESCRIBERS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Callable[[Any], str]], ...] = (
    (TimeoutError, lambda _: "timeout"),
    (aiohttp.ClientConnectorError, _connector_error),
    ((aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError), lambda exc: f"invalid_url: {_short(exc)}"),
    (aiohttp.ServerDisconnectedError, lambda _: "connection_error: server_disconnected"),
    (
        (aiohttp.ClientResponseError, aiohttp.ClientPayloadError),
        lambda exc: f"invalid_response: {_short(getattr(exc, 'message', exc))}",
    ),
    (OSError, lambda exc: f"connection_error: {_os_error_detail(exc)}"),
    (aiohttp.ClientError, lambda exc: f"connection_error: {type(exc).__name__}: {_short(exc)}"),
)


def describe_exception(exc: BaseException) -> str:
    """Return the outcome error for an exception raised by an attempt."""
    for kinds, describe in _DESCRIBERS:
        if isinstance(exc, kinds):
            return describe(exc)
    return _other_error(exc)

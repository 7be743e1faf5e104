"""Delivery value types (a pure domain: no I/O): what the runner asks a sender to deliver, and what came of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["AttemptOutcome", "DeliveryRequest"]


@dataclass(frozen=True, slots=True)
class DeliveryRequest:
    """One delivery attempt of one message to its app's URL.

    Parameters
    ----------
    message_id
        ``msg_<ULID>``, sent as ``webhook-id``.
    app_id
        The app the message belongs to.
    url
        The app's http(s) URL.
    headers
        The app's custom headers, already validated.
    body
        The payload as serialized JSON (UTF-8).
    secrets
        One or two (during rotation) ``whsec_<base64>`` signing secrets.
    scheduled_at
        The message's ``sendAt`` (RFC 3339, ms), sent as ``scheduler-scheduled-at``.
    attempt
        1-based attempt number, sent as ``scheduler-attempt``.
    """

    message_id: str
    app_id: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    secrets: tuple[str, ...]
    scheduled_at: str
    attempt: int


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What one attempt gave: the record the engine stores and classifies.

    ``error`` is ``None`` exactly when a 2xx status arrived within the deadline; otherwise it
    is a short code such as ``timeout``, ``connection_error: connection_refused``,
    ``blocked_address: 10.0.0.1``, ``redirect_not_followed`` or ``http_status: 500``.
    """

    started_at_ms: int
    duration_ms: int
    status_code: int | None
    error: str | None
    response_snippet: str
    retry_after_s: float | None

    @property
    def ok(self) -> bool:
        """Tell whether the receiver answered with a 2xx status."""
        return self.status_code is not None and 200 <= self.status_code < 300

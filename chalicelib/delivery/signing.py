"""Standard Webhooks signing and the headers of a delivery.

Signatures are made with the ``standardwebhooks`` library, so any Standard Webhooks
receiver verifies them. ``Webhook`` objects decode their secret once and are cached per
secret: signing runs thousands of times per second.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from multidict import CIMultiDict
from standardwebhooks.webhooks import Webhook

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["PROTECTED_HEADERS", "build_headers", "sign"]

# Names an app's headers may never set: framing and hop-by-hop headers, and ours.
PROTECTED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade"}
)
_PROTECTED_PREFIXES = ("webhook-", "scheduler-")


@functools.lru_cache(maxsize=1024)
def _webhook(secret: str) -> Webhook:
    return Webhook(secret)


def sign(message_id: str, timestamp_s: int, body: bytes, secrets: Iterable[str]) -> str:
    """Return the ``webhook-signature`` value: one ``v1,<base64>`` per secret, space-separated.

    Raises ``ValueError`` when ``body`` is not UTF-8 or a secret is not valid base64, and
    ``standardwebhooks`` errors for an empty secret.
    """
    when = datetime.fromtimestamp(timestamp_s, tz=UTC)
    text = body.decode("utf-8")
    signatures = [_webhook(secret).sign(message_id, when, text) for secret in secrets]
    if not signatures:
        raise ValueError("no signing secret")
    return " ".join(signatures)


def _is_protected(name: str) -> bool:
    lowered = name.lower()
    return lowered in PROTECTED_HEADERS or lowered.startswith(_PROTECTED_PREFIXES)


def build_headers(
    *,
    message_id: str,
    timestamp_s: int,
    body: bytes,
    secrets: Iterable[str],
    app_headers: Mapping[str, str],
    scheduled_at: str,
    attempt: int,
    user_agent: str,
) -> CIMultiDict[str]:
    """Assemble a delivery's headers.

    The app's headers may replace ``content-type`` and ``accept-encoding`` but not
    ``user-agent`` nor the signing and scheduler headers; protected names in them are dropped
    (the API already refuses them).
    """
    headers: CIMultiDict[str] = CIMultiDict()
    headers["content-type"] = "application/json"
    headers["accept-encoding"] = "identity"
    for name, value in app_headers.items():
        if not _is_protected(name):
            headers[name] = value
    headers["user-agent"] = user_agent
    headers["webhook-id"] = message_id
    headers["webhook-timestamp"] = str(timestamp_s)
    headers["webhook-signature"] = sign(message_id, timestamp_s, body, secrets)
    headers["scheduler-scheduled-at"] = scheduled_at
    headers["scheduler-attempt"] = str(attempt)
    return headers

"""Standard Webhooks signing and the headers of a delivery.

Signatures are made with the ``standardwebhooks`` library, so any Standard Webhooks
receiver verifies them. ``Webhook`` objects decode their secret once and are cached per
secret: signing runs thousands of times per second.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from multidict import CIMultiDict
from standardwebhooks.webhooks import Webhook

from chalicelib.domain.headers import header_problem

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["build_headers", "sign"]

_log = logging.getLogger(__name__)


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

    The app's headers come first and ours are set over them, so none of ours can be replaced; an
    app header the domain rules refuse (reserved, not a token, a control character in the value) is
    dropped here too, named in a warning without its value. The API refuses them already: this guards
    rows written before the rules or by other tools. Only ``accept-encoding`` may be chosen by the app.
    """
    headers: CIMultiDict[str] = CIMultiDict()
    headers["accept-encoding"] = "identity"
    for name, value in app_headers.items():
        if header_problem(name, value) is None:
            headers[name] = value
        else:
            _log.warning("dropped app header %r of message %s: not allowed", name, message_id)
    headers["content-type"] = "application/json"
    headers["user-agent"] = user_agent
    headers["webhook-id"] = message_id
    headers["webhook-timestamp"] = str(timestamp_s)
    headers["webhook-signature"] = sign(message_id, timestamp_s, body, secrets)
    headers["scheduler-scheduled-at"] = scheduled_at
    headers["scheduler-attempt"] = str(attempt)
    return headers

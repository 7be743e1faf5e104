"""`verify_delivery`: check a delivery's Standard Webhooks signature on the receiving side.

During the 24 h after a secret rotation each delivery carries two signatures (old and new secret,
space-separated); a receiver holding either secret accepts it. A receiver in the middle of its own
switch may pass both secrets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["WebhookVerificationError", "verify_delivery"]


def verify_delivery(headers: Mapping[str, str], body: bytes | str, secret: str | Iterable[str]) -> Any:
    """The delivery's JSON payload if one of its signatures matches `secret` (or one of several secrets).

    `headers` are the request's headers (any case); `body` is the raw body, exactly as received.
    Raises `WebhookVerificationError` when no signature matches, a `webhook-*` header is missing, or
    the timestamp is more than 5 minutes away from now (replays).
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets or not all(secrets):
        raise ValueError("give the app's signing secret (whsec_...)")
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    error: WebhookVerificationError | None = None
    for candidate in secrets:
        try:
            return Webhook(candidate).verify(body, lowered)
        except WebhookVerificationError as exc:
            error = exc
    assert error is not None
    raise error

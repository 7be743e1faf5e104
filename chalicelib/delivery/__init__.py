"""Outbound webhook delivery: signing, SSRF guard, whole-attempt deadline, outcome classification.

Shared by the local engine (``HttpSender`` in its event loop) and the delivery Lambda
(``send_once``); the values they exchange are in ``chalicelib.domain.delivery``. Importing this
package does no I/O (but loads aiohttp: the service layer never imports it).
"""

from __future__ import annotations

from chalicelib.delivery.classify import parse_retry_after, status_error
from chalicelib.delivery.sender import SNIPPET_LIMIT, HttpSender, SenderOptions, send_once
from chalicelib.delivery.signing import build_headers, sign
from chalicelib.delivery.ssrf import BlockedAddressError, GuardedResolver, is_blocked

__all__ = [
    "SNIPPET_LIMIT",
    "BlockedAddressError",
    "GuardedResolver",
    "HttpSender",
    "SenderOptions",
    "build_headers",
    "is_blocked",
    "parse_retry_after",
    "send_once",
    "sign",
    "status_error",
]

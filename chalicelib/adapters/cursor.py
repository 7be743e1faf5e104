"""Opaque list cursors: URL-safe base64 of a small JSON array; a tampered one is a 400.

Every adapter makes its cursors here. A cursor holds a position inside the caller's own data only, so
it reveals nothing about other tenants: the attempt feed's is the tenant's own attempt number locally
(`tenant_seq`) and the tenant's own `feedKey` (recording time, message id, attempt) on DynamoDB, where
the feed index is partitioned by tenant. A forged cursor only moves within the caller's own feed.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalicelib.domain.errors import InvalidInput

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1  # what SQLite (and DynamoDB's numbers, safely) can hold


def encode_cursor(*values: Any) -> str:
    """An opaque cursor holding `values`."""
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> list[Any]:
    """The values of a cursor made by `encode_cursor`, checked against `types`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput("invalid cursor", field="cursor") from exc
    if not isinstance(values, list) or len(values) != len(types):
        raise InvalidInput("invalid cursor", field="cursor")
    if not all(
        isinstance(value, kind) and not isinstance(value, bool) for value, kind in zip(values, types, strict=True)
    ):
        raise InvalidInput("invalid cursor", field="cursor")
    if any(isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX for value in values):
        raise InvalidInput("invalid cursor", field="cursor")  # a forged number no store can bind (was a 500)
    return values

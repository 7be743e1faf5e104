"""Opaque list cursors: URL-safe base64 of a small JSON array; a tampered one is a 400."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalicelib.domain.errors import InvalidInput


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
    return values

"""Identifier and secret generation: prefixed ULIDs, API keys and signing secrets."""

from __future__ import annotations

import base64
import hashlib
import secrets

from ulid import ULID

MESSAGE_PREFIX = "msg_"
APP_PREFIX = "app_"
KEY_PREFIX = "key_"
TENANT_PREFIX = "ten_"


def new_id(prefix: str) -> str:
    """A new sortable id such as `msg_01J...`."""
    return f"{prefix}{ULID()}"


def new_api_key() -> str:
    """A new bearer token, shown to its owner once."""
    return f"sk_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    """SHA-256 of the whole token: what the key store keeps and looks up."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def ulid_part(prefixed_id: str) -> str:
    """The ULID of a prefixed id (`msg_01J...` → `01J...`)."""
    return prefixed_id.split("_", 1)[1]

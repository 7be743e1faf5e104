"""Signing secrets and header values sealed with KMS envelope encryption (encryption context: tenant).

`seal` asks KMS for one data key (`GenerateDataKey`, AES-256, context `{"tenantId": ...}`) per call
and encrypts each value with AES-256-GCM under it (the tenant id is the GCM associated data too).
A sealed value is a self-contained string `sv1.<encrypted data key>.<nonce>.<ciphertext>` (URL-safe
base64), so values sealed at different times can sit side by side in one app and be kept as they
are when the app is written again: the API function never sees them in clear.

Why GenerateDataKey and not Encrypt: header values reach 20 x 4 KiB, above KMS Encrypt's 4 KiB;
and the API function then needs only `kms:GenerateDataKey`, never `kms:Decrypt`.

`open` (delivery function only, `kms:Decrypt`) caches decrypted data keys per container for
`cache_s`, keyed by the encrypted key, so warm deliveries to a known app make no KMS call.

The KMS client and key id are resolved on first use: functions that never seal or open (cleanup)
build stores that hold a sealer but are not given the key id by Terraform.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chalicelib.adapters.aws.dynamo import map_exceptions

PREFIX = "sv1."
_NONCE_BYTES = 12


class Sealed(str):
    """A sealed value as read back from the store: written again as it is, never sealed twice.

    A type rather than a prefix check, so a header value that merely looks sealed is still sealed."""

    __slots__ = ()


def is_sealed(value: str) -> bool:
    """Whether a value was read back sealed (and so is stored as it is)."""
    return isinstance(value, Sealed)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    """Seals and opens values with one KMS key; `kms` makes the boto3 KMS client, `key_id` names the key."""

    def __init__(
        self,
        kms: Callable[[], Any],
        key_id: Callable[[], str],
        *,
        cache_s: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make_kms = kms
        self._key_id = key_id
        self._cache_s = cache_s
        self._monotonic = monotonic
        self._keys: dict[bytes, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    @property
    def _kms(self) -> Any:
        return self._make_kms()

    def seal(self, tenant_id: str, values: Sequence[str]) -> list[str]:
        """Each value sealed (already sealed ones are kept as they are); at most one KMS call."""
        plain = [v for v in values if not is_sealed(v)]
        if not plain:
            return list(values)
        with map_exceptions("KMS"):
            key = self._kms.generate_data_key(
                KeyId=self._key_id(), KeySpec="AES_256", EncryptionContext={"tenantId": tenant_id}
            )
        aead, wrapped = AESGCM(key["Plaintext"]), _b64(key["CiphertextBlob"])
        return [v if is_sealed(v) else self._seal_one(aead, wrapped, tenant_id, v) for v in values]

    @staticmethod
    def _seal_one(aead: AESGCM, wrapped: str, tenant_id: str, value: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        cipher = aead.encrypt(nonce, value.encode(), tenant_id.encode())
        return f"{PREFIX}{wrapped}.{_b64(nonce)}.{_b64(cipher)}"

    def open(self, tenant_id: str, values: Sequence[str]) -> list[str]:
        """The clear text of stored (sealed) values; one KMS call per data key not in the cache."""
        return [self._open_one(tenant_id, v) for v in values]

    def _open_one(self, tenant_id: str, value: str) -> str:
        if not value.startswith(PREFIX) or value.count(".") != 3:
            raise ValueError("not a sealed value")
        _, wrapped, nonce, cipher = value.split(".")
        key = self._data_key(tenant_id, _unb64(wrapped))
        return AESGCM(key).decrypt(_unb64(nonce), _unb64(cipher), tenant_id.encode()).decode()

    def _data_key(self, tenant_id: str, wrapped: bytes) -> bytes:
        now = self._monotonic()
        cache_key = tenant_id.encode() + b"\0" + wrapped
        with self._lock:
            cached = self._keys.get(cache_key)
        if cached is not None and cached[1] > now:
            return cached[0]
        with map_exceptions("KMS"):
            plain = self._kms.decrypt(
                CiphertextBlob=wrapped, KeyId=self._key_id(), EncryptionContext={"tenantId": tenant_id}
            )["Plaintext"]
        with self._lock:
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[cache_key] = (plain, now + self._cache_s)
        return bytes(plain)

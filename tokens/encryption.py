"""Encryption of the secrets stored in the database: the only code that touches keys.

Each value is sealed with AES-256-GCM under the newest key of
settings.FIELD_ENCRYPTION_KEYS. The stored text names the key id, so older keys keep
decrypting after a rotation, and the row and field the value belongs to are bound in
as associated data, so a ciphertext copied into another row or field fails to
decrypt.
"""

import base64
import binascii
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

FORMAT_VERSION = "v1"
_NONCE_BYTES = 12


class DecryptionError(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


class MissingKeyError(DecryptionError):
    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"Encryption key {key_id!r} is not in FIELD_ENCRYPTION_KEYS: add it back "
            "to read secrets stored under it."
        )
        self.key_id = key_id


@functools.lru_cache(maxsize=4)
def _parse_keys(entries: tuple[str, ...]) -> tuple[str, dict[str, AESGCM]]:
    keys: dict[str, AESGCM] = {}
    for entry in entries:
        key_id, sep, encoded = entry.partition(":")
        if not sep or not key_id or "." in key_id:
            raise ImproperlyConfigured(
                "Each FIELD_ENCRYPTION_KEYS entry must be key-id:base64-key, with no "
                f"dot in the key id; got an entry starting {key_id[:8]!r}."
            )
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS key {key_id!r} is not valid base64."
            ) from None
        if len(raw) != 32:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS key {key_id!r} has {len(raw)} bytes; AES-256 "
                "needs 32."
            )
        keys[key_id] = AESGCM(raw)
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS lists no key.")
    return entries[0].partition(":")[0], keys


def _key_ring() -> tuple[str, dict[str, AESGCM]]:
    return _parse_keys(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str, *, context: str) -> str:
    """Seal plaintext under the newest key, bound to context (row and field)."""
    key_id, keys = _key_ring()
    nonce = os.urandom(_NONCE_BYTES)
    sealed = keys[key_id].encrypt(nonce, plaintext.encode(), context.encode())
    payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
    return f"{FORMAT_VERSION}.{key_id}.{payload}"


def decrypt(stored: str, *, context: str) -> str:
    """Open a value sealed by encrypt() for the same context."""
    version, _, rest = stored.partition(".")
    key_id, _, payload = rest.partition(".")
    if version != FORMAT_VERSION or not key_id or not payload:
        raise DecryptionError("The stored secret is not in a known format.")

    _, keys = _key_ring()
    if key_id not in keys:
        raise MissingKeyError(key_id)
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        opened = keys[key_id].decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
    except (binascii.Error, ValueError, InvalidTag):
        raise DecryptionError(
            f"The stored secret does not open with key {key_id!r} for this row: it "
            "was altered or copied from another row."
        ) from None
    return opened.decode()


def key_id_of(stored: str) -> str:
    """Return the id of the key a stored value was sealed with."""
    return stored.split(".", 2)[1] if stored.count(".") >= 2 else ""

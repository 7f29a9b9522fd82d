"""Encryption at rest for small secrets (Slack OAuth tokens, Teams conversation references…), key derivation
and keyed hashes.

`SecretBox(master_key, purpose)` derives its own subkey with HKDF-SHA256 (purpose in `info`), so boxes for
different purposes cannot open each other's data. Blob layout (version 1)::

    01 || nonce (12) || ChaCha20-Poly1305 ciphertext+tag (n + 16)      — 29 bytes overhead

The associated data binds the version, the purpose and the caller's `associated` bytes (e.g. a row id).
Nonces are random (96 bits): fine for well under 2^32 encryptions per purpose and master key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.security import _encoding as enc
from bot.security.errors import DecryptionError
from bot.security.secret import Secret, TokenBytes, draw

BOX_VERSION = 1
NONCE_LEN = 12
TAG_LEN = 16
BOX_OVERHEAD = 1 + NONCE_LEN + TAG_LEN
MIN_KEY_LEN = 32
MAX_DERIVED_LEN = 255 * 32

_BOX_INFO = b"vipbot/secretbox/v1"
_DERIVE_INFO = b"vipbot/derive-key/v1"
_BOX_AAD = b"vipbot/secretbox-aad"
_VERSION_BYTE = bytes([BOX_VERSION])


def _key_bytes(key: Secret[bytes]) -> bytes:
    value = key.reveal()
    if not isinstance(value, bytes) or len(value) < MIN_KEY_LEN:
        raise ValueError("key must be at least 32 bytes")
    return value


def _hkdf(master: Secret[bytes], info: bytes, length: int) -> bytes:
    if not 1 <= length <= MAX_DERIVED_LEN:
        raise ValueError("length out of range for HKDF-SHA256")
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(_key_bytes(master))


def _purpose_bytes(purpose: str) -> bytes:
    if not purpose:
        raise ValueError("purpose must not be empty")
    return enc.text(purpose)


def derive_key(master: Secret[bytes], purpose: str, length: int = 32) -> Secret[bytes]:
    """A subkey of `master` for `purpose` (HKDF-SHA256). Distinct from any `SecretBox` subkey."""
    return Secret(_hkdf(master, enc.frame(_DERIVE_INFO, _purpose_bytes(purpose)), length))


def keyed_hash(key: Secret[bytes], data: bytes) -> bytes:
    """HMAC-SHA256 of `data` (32 bytes), e.g. a pulse participation row: keyed_hash(pulse key, user id)."""
    return hmac.new(_key_bytes(key), data, hashlib.sha256).digest()


class SecretBox:
    """Authenticated encryption under a purpose-specific subkey of a master key."""

    __slots__ = ("_aead", "_purpose", "_token_bytes")

    def __init__(
        self, master_key: Secret[bytes], purpose: str, *, token_bytes: TokenBytes = secrets.token_bytes
    ) -> None:
        purpose_bytes = _purpose_bytes(purpose)
        self._purpose = purpose
        self._aead = ChaCha20Poly1305(_hkdf(master_key, enc.frame(_BOX_INFO, purpose_bytes), 32))
        self._token_bytes = token_bytes

    @property
    def purpose(self) -> str:
        """The purpose this box's subkey was derived for."""
        return self._purpose

    def _aad(self, associated: bytes) -> bytes:
        return enc.frame(_BOX_AAD, _VERSION_BYTE, enc.text(self._purpose), associated)

    def encrypt(self, plaintext: bytes, associated: bytes = b"") -> bytes:
        """Encrypt; `associated` (not stored) must be passed again to decrypt."""
        nonce = draw(self._token_bytes, NONCE_LEN)
        return _VERSION_BYTE + nonce + self._aead.encrypt(nonce, plaintext, self._aad(associated))

    def decrypt(self, blob: bytes, associated: bytes = b"") -> bytes:
        """Decrypt; wrong master key, purpose or associated data, or a changed blob → `DecryptionError`."""
        if len(blob) < BOX_OVERHEAD or blob[0] != BOX_VERSION:
            raise DecryptionError("secretbox blob is malformed or of an unknown version")
        try:
            return self._aead.decrypt(blob[1 : 1 + NONCE_LEN], blob[1 + NONCE_LEN :], self._aad(associated))
        except InvalidTag as exc:
            raise DecryptionError("secretbox blob did not authenticate") from exc

    def __repr__(self) -> str:
        return f"SecretBox(purpose={self._purpose!r}, key=***)"

"""A counsellor's private key, wrapped under a key derived from their passphrase.

Argon2id (libargon2 via argon2-cffi; parameters stored with the blob) turns passphrase + 16-byte random salt
into a 32-byte key; ChaCha20-Poly1305 with a random 12-byte nonce encrypts the private key. The associated
data binds the format version, the Argon2 parameters, salt, nonce and the counsellor id, so a blob copied to
another counsellor's row does not open. Not PKCS#8 `BestAvailableEncryption` (PBKDF2 at 2048 iterations).

`WrappedKey.to_bytes()` layout (version 1), 154 bytes for a 97-byte HPKE private key::

    01 || time_cost u32 || lanes u32 || memory_kib u32 || salt (16) || nonce (12) || ciphertext+tag (n + 16)
"""

from __future__ import annotations

import secrets
import struct
import unicodedata
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from bot.security import _encoding as enc
from bot.security.errors import InvalidKeyError, WrongPassphraseError
from bot.security.secret import Secret, TokenBytes, draw

WRAP_VERSION = 1
SALT_LEN = 16
NONCE_LEN = 12
KEY_LEN = 32
TAG_LEN = 16
_PARAMS = struct.Struct(">III")
_HEADER_LEN = 1 + _PARAMS.size + SALT_LEN + NONCE_LEN
_AAD_LABEL = b"vipbot/counsellor-key-wrap"

# Bounds checked on every Argon2Params, also when read back from storage: a tampered blob must not be able to
# ask for gigabytes of memory or minutes of work.
MIN_MEMORY_KIB = 8 * 1024
MAX_MEMORY_KIB = 2 * 1024 * 1024
MAX_TIME_COST = 20
MAX_LANES = 16


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters. The defaults (t=3, 4 lanes, 256 MiB) take 0.6-0.8 s on a 2-core server.

    Each derivation holds `memory_kib` of RAM while it runs: bound the number of concurrent unlocks.
    """

    time_cost: int = 3
    lanes: int = 4
    memory_kib: int = 256 * 1024

    def __post_init__(self) -> None:
        if not 1 <= self.time_cost <= MAX_TIME_COST:
            raise ValueError("Argon2 time_cost out of range")
        if not 1 <= self.lanes <= MAX_LANES:
            raise ValueError("Argon2 lanes out of range")
        if not MIN_MEMORY_KIB <= self.memory_kib <= MAX_MEMORY_KIB:
            raise ValueError("Argon2 memory_kib out of range")


DEFAULT_ARGON2_PARAMS = Argon2Params()
#: Cheap parameters for tests only (8 MiB, one pass, one lane). Never use them for real keys.
INSECURE_TEST_ARGON2_PARAMS = Argon2Params(time_cost=1, lanes=1, memory_kib=MIN_MEMORY_KIB)


@dataclass(frozen=True)
class WrappedKey:
    """A passphrase-wrapped private key, safe to store. `to_bytes()`/`from_bytes()` are self-describing."""

    version: int
    params: Argon2Params
    salt: bytes
    nonce: bytes
    ciphertext: bytes

    def __post_init__(self) -> None:
        if self.version != WRAP_VERSION:
            raise InvalidKeyError("wrapped key has an unknown version")
        if len(self.salt) != SALT_LEN or len(self.nonce) != NONCE_LEN or len(self.ciphertext) < TAG_LEN:
            raise InvalidKeyError("wrapped key is malformed")

    def header(self) -> bytes:
        """Everything but the ciphertext: version, parameters, salt and nonce."""
        p = self.params
        return (
            bytes([self.version]) + _PARAMS.pack(p.time_cost, p.lanes, p.memory_kib) + self.salt + self.nonce
        )

    def to_bytes(self) -> bytes:
        """Serialize for storage."""
        return self.header() + self.ciphertext

    @classmethod
    def from_bytes(cls, data: bytes) -> WrappedKey:
        """Parse what `to_bytes()` wrote; `InvalidKeyError` on malformed input or out-of-range params."""
        if len(data) < _HEADER_LEN + TAG_LEN:
            raise InvalidKeyError("wrapped key is malformed")
        time_cost, lanes, memory_kib = _PARAMS.unpack_from(data, 1)
        try:
            params = Argon2Params(time_cost=time_cost, lanes=lanes, memory_kib=memory_kib)
        except ValueError as exc:
            raise InvalidKeyError("wrapped key has out-of-range parameters") from exc
        salt_at = 1 + _PARAMS.size
        return cls(
            version=data[0],
            params=params,
            salt=data[salt_at : salt_at + SALT_LEN],
            nonce=data[salt_at + SALT_LEN : _HEADER_LEN],
            ciphertext=data[_HEADER_LEN:],
        )

    def __repr__(self) -> str:
        return f"WrappedKey(version={self.version}, params={self.params!r}, <{len(self.ciphertext)} bytes>)"


def _passphrase_bytes(passphrase: Secret[str]) -> bytes:
    value = passphrase.reveal()
    if not isinstance(value, str) or not value:
        raise ValueError("passphrase must be a non-empty str")
    # NFC so that the same passphrase typed on different keyboards/platforms gives the same bytes.
    return unicodedata.normalize("NFC", value).encode("utf-8")


def _derive(passphrase: Secret[str], salt: bytes, params: Argon2Params) -> bytes:
    # libargon2 (argon2-cffi), not cryptography's OpenSSL Argon2id: with cryptography 50.0.2, two threads deriving
    # with lanes > 1 at the same time deadlock (OpenSSL's shared thread pool is capped at the CPU count), and a
    # server unlocks keys from worker threads. Same function, same output (Argon2id v1.3), checked in the tests.
    return hash_secret_raw(
        _passphrase_bytes(passphrase),
        salt,
        params.time_cost,
        params.memory_kib,
        params.lanes,
        KEY_LEN,
        Type.ID,
    )


def _aad(header: bytes, counsellor_id: str) -> bytes:
    if not counsellor_id:
        raise ValueError("counsellor_id must not be empty")
    return enc.frame(_AAD_LABEL, header, enc.text(counsellor_id))


def protect_private_key(
    private: Secret[bytes],
    passphrase: Secret[str],
    counsellor_id: str,
    params: Argon2Params = DEFAULT_ARGON2_PARAMS,
    *,
    token_bytes: TokenBytes = secrets.token_bytes,
) -> WrappedKey:
    """Wrap `private` under `passphrase` for `counsellor_id` (a stable id, not an e-mail address)."""
    shell = WrappedKey(
        version=WRAP_VERSION,
        params=params,
        salt=draw(token_bytes, SALT_LEN),
        nonce=draw(token_bytes, NONCE_LEN),
        ciphertext=bytes(TAG_LEN),
    )
    key = _derive(passphrase, shell.salt, params)
    ciphertext = ChaCha20Poly1305(key).encrypt(
        shell.nonce, private.reveal(), _aad(shell.header(), counsellor_id)
    )
    return WrappedKey(shell.version, shell.params, shell.salt, shell.nonce, ciphertext)


def unlock_private_key(wrapped: WrappedKey, passphrase: Secret[str], counsellor_id: str) -> Secret[bytes]:
    """Unwrap; a wrong passphrase, another counsellor's id or a tampered blob raise `WrongPassphraseError`."""
    key = _derive(passphrase, wrapped.salt, wrapped.params)
    try:
        plain = ChaCha20Poly1305(key).decrypt(
            wrapped.nonce, wrapped.ciphertext, _aad(wrapped.header(), counsellor_id)
        )
    except InvalidTag as exc:
        raise WrongPassphraseError("passphrase did not unlock the key") from exc
    return Secret(plain)


def rewrap(
    wrapped: WrappedKey,
    old_passphrase: Secret[str],
    new_passphrase: Secret[str],
    counsellor_id: str,
    *,
    params: Argon2Params | None = None,
    token_bytes: TokenBytes = secrets.token_bytes,
) -> WrappedKey:
    """Change the passphrase (fresh salt and nonce).

    `params=None` keeps the blob's parameters; pass new ones to upgrade them. A wrong old passphrase raises
    `WrongPassphraseError`.
    """
    private = unlock_private_key(wrapped, old_passphrase, counsellor_id)
    return protect_private_key(
        private,
        new_passphrase,
        counsellor_id,
        wrapped.params if params is None else params,
        token_bytes=token_bytes,
    )


def needs_rewrap(wrapped: WrappedKey, params: Argon2Params = DEFAULT_ARGON2_PARAMS) -> bool:
    """True when the blob was wrapped with parameters other than `params` (rewrap at the next unlock)."""
    return wrapped.params != params

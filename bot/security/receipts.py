"""Anonymous receipt codes for the portal.

A code is 100 random bits written as 20 Crockford base32 characters in five groups of four
(``7KQ2-M9XD-…``). Two independent values come from it:

- the *lookup value*, ``HMAC-SHA256(lookup pepper, label || code)``, stored to find the conversation;
- the *wrap key*, ``HKDF-SHA256(salt, HMAC-SHA256(wrap pepper, other label || code))``, which unwraps the
  conversation's private key and is never stored.

Different peppers and different labels keep the two unrelated: the lookup value tells nothing about the wrap
key.
Codes are `Secret[str]` throughout, in canonical form after `normalize_code`.
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
from bot.security.errors import DecryptionError, InvalidCodeError
from bot.security.secret import Secret, TokenBytes, draw

CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 20
CODE_BITS = CODE_CHARS * 5
GROUP = 4
WRAP_VERSION = 1
SALT_LEN = 16
NONCE_LEN = 12
TAG_LEN = 16
WRAP_OVERHEAD = 1 + SALT_LEN + NONCE_LEN + TAG_LEN
MIN_PEPPER_LEN = 32

_RANDOM_BYTES = (CODE_BITS + 7) // 8
_LOOKUP_LABEL = b"vipbot/receipt-lookup/v1"
_WRAP_PRK_LABEL = b"vipbot/receipt-wrap/v1"
_WRAP_INFO = b"vipbot/receipt-wrap-key/v1"
_BLOB_LABEL = b"vipbot/receipt-wrapped-secret"
_SEPARATORS = str.maketrans("", "", " -\t\r\n\u00a0")
_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_ALPHABET_SET = frozenset(CROCKFORD_ALPHABET)


def _group(chars: str) -> str:
    return "-".join(chars[i : i + GROUP] for i in range(0, len(chars), GROUP))


def new_receipt_code(*, token_bytes: TokenBytes = secrets.token_bytes) -> Secret[str]:
    """A fresh code with 100 bits of entropy, e.g. ``7KQ2-M9XD-3FHT-Q0AZ-W1BN``. Show it once."""
    number = int.from_bytes(draw(token_bytes, _RANDOM_BYTES), "big") >> (_RANDOM_BYTES * 8 - CODE_BITS)
    chars = "".join(CROCKFORD_ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(CODE_CHARS)))
    return Secret(_group(chars))


def normalize_code(text: str | Secret[str]) -> Secret[str]:
    """Canonical form of a typed code: case-insensitive, spaces and dashes ignored, I/L read as 1 and O as 0.

    Raises `InvalidCodeError` (without echoing the input) when it is not 20 Crockford base32 characters.
    """
    raw = text.reveal() if isinstance(text, Secret) else text
    if not isinstance(raw, str):
        raise InvalidCodeError("receipt code must be text")
    chars = raw.translate(_SEPARATORS).upper().translate(_ALIASES)
    if len(chars) != CODE_CHARS or not _ALPHABET_SET.issuperset(chars):
        raise InvalidCodeError("receipt code is not well formed")
    return Secret(_group(chars))


def _code_bytes(code: Secret[str]) -> bytes:
    return enc.text(normalize_code(code).reveal())


def _pepper(pepper: Secret[bytes]) -> bytes:
    value = pepper.reveal()
    if not isinstance(value, bytes) or len(value) < MIN_PEPPER_LEN:
        raise ValueError("pepper must be at least 32 bytes")
    return value


def receipt_lookup(code: Secret[str], lookup_pepper: Secret[bytes]) -> bytes:
    """The 32-byte value stored to find a conversation by its receipt code (HMAC-SHA256)."""
    return hmac.new(
        _pepper(lookup_pepper), _LOOKUP_LABEL + b"\x00" + _code_bytes(code), hashlib.sha256
    ).digest()


def receipt_wrap_key(code: Secret[str], wrap_pepper: Secret[bytes], salt: bytes) -> Secret[bytes]:
    """A 32-byte key that unwraps what the code protects. Independent of `receipt_lookup`; never store it."""
    if len(salt) < SALT_LEN:
        raise ValueError("salt must be at least 16 bytes")
    prk_input = hmac.new(
        _pepper(wrap_pepper), _WRAP_PRK_LABEL + b"\x00" + _code_bytes(code), hashlib.sha256
    ).digest()
    return Secret(HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_WRAP_INFO).derive(prk_input))


def _blob_aad(header: bytes, context_label: str) -> bytes:
    if not context_label:
        raise ValueError("context_label must not be empty")
    return enc.frame(_BLOB_LABEL, header, enc.text(context_label))


def wrap_with_code(
    secret: Secret[bytes],
    code: Secret[str],
    wrap_pepper: Secret[bytes],
    context_label: str,
    *,
    token_bytes: TokenBytes = secrets.token_bytes,
) -> bytes:
    """Encrypt `secret` under a key derived from the receipt code.

    `context_label` names what is wrapped (e.g. ``"conversation-key:<conversation id>"``) and must be given
    again to unwrap. Layout: ``01 || salt (16) || nonce (12) || ciphertext+tag`` — 45 bytes overhead.
    """
    salt = draw(token_bytes, SALT_LEN)
    nonce = draw(token_bytes, NONCE_LEN)
    header = bytes([WRAP_VERSION]) + salt + nonce
    key = receipt_wrap_key(code, wrap_pepper, salt)
    return header + ChaCha20Poly1305(key.reveal()).encrypt(
        nonce, secret.reveal(), _blob_aad(header, context_label)
    )


def unwrap_with_code(
    blob: bytes, code: Secret[str], wrap_pepper: Secret[bytes], context_label: str
) -> Secret[bytes]:
    """Reverse `wrap_with_code`. Wrong code, pepper or label, or a changed blob → `DecryptionError`."""
    if len(blob) < WRAP_OVERHEAD or blob[0] != WRAP_VERSION:
        raise DecryptionError("code-wrapped blob is malformed or of an unknown version")
    header = blob[: 1 + SALT_LEN + NONCE_LEN]
    salt = header[1 : 1 + SALT_LEN]
    nonce = header[1 + SALT_LEN :]
    key = receipt_wrap_key(code, wrap_pepper, salt)
    try:
        plain = ChaCha20Poly1305(key.reveal()).decrypt(
            nonce, blob[len(header) :], _blob_aad(header, context_label)
        )
    except InvalidTag as exc:
        raise DecryptionError("code-wrapped blob did not authenticate") from exc
    return Secret(plain)

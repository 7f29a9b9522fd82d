"""Sealing to a key pair with HPKE (RFC 9180, base mode).

Suite: ML-KEM-768+X25519 hybrid KEM / HKDF-SHA256 / ChaCha20-Poly1305. `Suite.encrypt` takes no separate
associated data, so everything a ciphertext belongs to (purpose, conversation, direction, sequence number,
recipient) is bound through HPKE `info` as the canonical encoding of a `Context`.

Formats (all version-prefixed, version 1):

- public key, 1217 bytes: ``01 || ML-KEM-768 public key (1184) || X25519 public key (32)``
- private key, 97 bytes: ``01 || ML-KEM-768 seed (64) || X25519 private key (32)`` — always a `Secret`
- sealed message: ``01 || HPKE enc (1120) || ChaCha20-Poly1305 ciphertext (plaintext + 16)``, i.e. 1137 bytes
  of overhead per message

The KEM's own randomness comes from OpenSSL and cannot be injected; key generation takes a `token_bytes`
source.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke as _hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from bot.security import _encoding as enc
from bot.security.errors import DecryptionError, InvalidKeyError
from bot.security.secret import Secret, TokenBytes, draw

FORMAT_VERSION = 1
MLKEM_SEED_LEN = 64
MLKEM768_PUBLIC_LEN = 1184
X25519_KEY_LEN = 32
PUBLIC_KEY_LEN = 1 + MLKEM768_PUBLIC_LEN + X25519_KEY_LEN
PRIVATE_KEY_LEN = 1 + MLKEM_SEED_LEN + X25519_KEY_LEN
ENC_LEN = _hpke.KEM.MLKEM768_X25519.enc_length()
TAG_LEN = 16
SEAL_OVERHEAD = 1 + ENC_LEN + TAG_LEN
MAX_SEQUENCE = 2**64 - 1

_SUITE = _hpke.Suite(_hpke.KEM.MLKEM768_X25519, _hpke.KDF.HKDF_SHA256, _hpke.AEAD.CHACHA20_POLY1305)
_INFO_LABEL = b"vipbot/hpke-context"
_VERSION_BYTE = bytes([FORMAT_VERSION])


class Purpose(StrEnum):
    """What a sealed payload is. Part of the `info` binding."""

    MESSAGE = "message"
    CONVERSATION_KEY = "conversation-key"
    LABEL = "label"  # the counsellors' own short label of a conversation (the first format, see label_keys)
    LABEL_KEY = "label-key"  # an organisation's label key sealed to one counsellor (see label_keys)


class Direction(StrEnum):
    """Who wrote a message."""

    EMPLOYEE = "employee"
    COUNSELLOR = "counsellor"


@dataclass(frozen=True)
class Context:
    """Everything a sealed payload belongs to; its `encode()` is the HPKE `info`.

    Use `Context.message(...)` for conversation messages and `Context.conversation_key(...)` for a
    conversation's private key sealed to one counsellor. Identifiers are hidden from `repr`.
    """

    purpose: Purpose
    conversation_id: str = field(repr=False)
    direction: Direction | None = None
    sequence: int | None = None
    recipient_id: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.purpose, Purpose):
            raise TypeError("purpose must be a Purpose")
        if not self.conversation_id:
            raise ValueError("conversation_id must not be empty")
        if self.direction is not None and not isinstance(self.direction, Direction):
            raise TypeError("direction must be a Direction")
        if self.sequence is not None and (
            isinstance(self.sequence, bool)
            or not isinstance(self.sequence, int)
            or not 0 <= self.sequence <= MAX_SEQUENCE
        ):
            raise ValueError("sequence must be an int in [0, 2**64)")
        if self.purpose is Purpose.MESSAGE:
            if self.direction is None or self.sequence is None or self.recipient_id is not None:
                raise ValueError("a message context needs direction and sequence, and no recipient")
        elif self.purpose is Purpose.LABEL:
            if self.direction is not None or self.sequence is not None or self.recipient_id is not None:
                raise ValueError("a label context has no direction, sequence or recipient")
        elif self.direction is not None or self.sequence is not None or not self.recipient_id:
            raise ValueError("a conversation-key context needs a recipient, and no direction or sequence")

    @classmethod
    def message(cls, conversation_id: str, direction: Direction, sequence: int) -> Context:
        """Context of message number `sequence` written by `direction` in a conversation."""
        return cls(Purpose.MESSAGE, conversation_id, direction=direction, sequence=sequence)

    @classmethod
    def conversation_key(cls, conversation_id: str, recipient_id: str) -> Context:
        """Context of a conversation's private key sealed to the key pair of `recipient_id` (a counsellor)."""
        return cls(Purpose.CONVERSATION_KEY, conversation_id, recipient_id=recipient_id)

    @classmethod
    def label(cls, conversation_id: str) -> Context:
        """Context of the counsellors' label of a conversation (sealed to the conversation's key)."""
        return cls(Purpose.LABEL, conversation_id)

    @classmethod
    def label_key(cls, label_key_id: str, recipient_id: str) -> Context:
        """Context of a label key sealed to the key pair of `recipient_id` (a counsellor). The key's id takes the
        place of the conversation id: it names what is sealed."""
        return cls(Purpose.LABEL_KEY, label_key_id, recipient_id=recipient_id)

    def encode(self) -> bytes:
        """Canonical, injective byte encoding (length-prefixed fields, explicit absence markers)."""
        return enc.frame(
            _INFO_LABEL,
            _VERSION_BYTE,
            enc.text(self.purpose.value),
            enc.text(self.conversation_id),
            enc.optional(None if self.direction is None else enc.text(self.direction.value)),
            enc.optional(None if self.sequence is None else enc.u64(self.sequence)),
            enc.optional(None if self.recipient_id is None else enc.text(self.recipient_id)),
        )


@dataclass(frozen=True)
class KeyPair:
    """A serialized hybrid key pair. `public` may be stored in the clear; `private` must be wrapped."""

    public: bytes
    private: Secret[bytes]

    def __repr__(self) -> str:
        return f"KeyPair(public=<{len(self.public)} bytes>, private={self.private!r})"


def generate_keypair(*, token_bytes: TokenBytes = secrets.token_bytes) -> KeyPair:
    """Generate a fresh ML-KEM-768+X25519 key pair from `token_bytes` (64-byte seed + 32-byte X25519 key)."""
    seed = draw(token_bytes, MLKEM_SEED_LEN)
    x_private = draw(token_bytes, X25519_KEY_LEN)
    private = Secret(_VERSION_BYTE + seed + x_private)
    return KeyPair(public=public_key_of(private), private=private)


def _parse_private(private: Secret[bytes]) -> tuple[mlkem.MLKEM768PrivateKey, x25519.X25519PrivateKey]:
    raw = private.reveal()
    if not isinstance(raw, bytes) or len(raw) != PRIVATE_KEY_LEN or raw[0] != FORMAT_VERSION:
        raise InvalidKeyError("private key is malformed or of an unknown version")
    seed = raw[1 : 1 + MLKEM_SEED_LEN]
    x_raw = raw[1 + MLKEM_SEED_LEN :]
    try:
        return mlkem.MLKEM768PrivateKey.from_seed_bytes(seed), x25519.X25519PrivateKey.from_private_bytes(
            x_raw
        )
    except ValueError as exc:
        raise InvalidKeyError("private key is malformed") from exc


def public_key_of(private: Secret[bytes]) -> bytes:
    """The serialized public key belonging to a serialized private key."""
    m_key, x_key = _parse_private(private)
    return _VERSION_BYTE + m_key.public_key().public_bytes_raw() + x_key.public_key().public_bytes_raw()


def _load_public(public: bytes) -> _hpke.MLKEM768X25519PublicKey:
    if not isinstance(public, bytes) or len(public) != PUBLIC_KEY_LEN or public[0] != FORMAT_VERSION:
        raise InvalidKeyError("public key is malformed or of an unknown version")
    try:
        m_pub = mlkem.MLKEM768PublicKey.from_public_bytes(public[1 : 1 + MLKEM768_PUBLIC_LEN])
        x_pub = x25519.X25519PublicKey.from_public_bytes(public[1 + MLKEM768_PUBLIC_LEN :])
    except ValueError as exc:
        raise InvalidKeyError("public key is malformed") from exc
    return _hpke.MLKEM768X25519PublicKey(m_pub, x_pub)


class OpeningKey:
    """A private key parsed once, for opening many sealed payloads (parsing costs about as much as opening).

    Obtain one with `load_opening_key`; it never prints its key.
    """

    __slots__ = ("_key",)

    def __init__(self, private: Secret[bytes]) -> None:
        m_key, x_key = _parse_private(private)
        self._key = _hpke.MLKEM768X25519PrivateKey(m_key, x_key)

    def open(self, ciphertext: bytes, *, context: Context) -> bytes:
        """Open a payload sealed by `seal` under the same context; otherwise raise `DecryptionError`."""
        if len(ciphertext) < SEAL_OVERHEAD or ciphertext[0] != FORMAT_VERSION:
            raise DecryptionError("sealed payload is malformed or of an unknown version")
        try:
            return _SUITE.decrypt(ciphertext[1:], self._key, info=context.encode())
        except InvalidTag as exc:
            raise DecryptionError("sealed payload did not authenticate (wrong key, context or data)") from exc

    def __repr__(self) -> str:
        return "OpeningKey(***)"


def load_opening_key(private: Secret[bytes]) -> OpeningKey:
    """Parse a serialized private key once; raises `InvalidKeyError` if it is malformed."""
    return OpeningKey(private)


def seal(public: bytes, plaintext: bytes, *, context: Context) -> bytes:
    """Encrypt `plaintext` to the serialized public key `public`, bound to `context`."""
    return _VERSION_BYTE + _SUITE.encrypt(plaintext, _load_public(public), info=context.encode())


def open_sealed(private: Secret[bytes] | OpeningKey, ciphertext: bytes, *, context: Context) -> bytes:
    """Decrypt what `seal` produced. Wrong key or context, or any change to the bytes → `DecryptionError`."""
    key = private if isinstance(private, OpeningKey) else OpeningKey(private)
    return key.open(ciphertext, context=context)


def seal_secret(public: bytes, secret: Secret[bytes], *, context: Context) -> bytes:
    """`seal` for secret material, e.g. a conversation's private key sealed to a counsellor."""
    return seal(public, secret.reveal(), context=context)


def open_secret(private: Secret[bytes] | OpeningKey, ciphertext: bytes, *, context: Context) -> Secret[bytes]:
    """`open_sealed` returning a `Secret`."""
    return Secret(open_sealed(private, ciphertext, context=context))

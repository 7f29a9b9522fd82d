"""The confidential channel's key flow (DESIGN §4.3) on top of `hpke`, `receipts` and `counsellor_keys`.

- A conversation gets its own ML-KEM-768+X25519 key pair. Its private key is sealed to each counsellor of the
  organisation (context: conversation id + counsellor id) and wrapped under a key derived from the receipt code.
- The receipt code's lookup value and its wrap key come from two peppers, both derived from the service's
  secret key with distinct purposes.
- Messages are sealed to the conversation's public key with conversation id, author and sequence number in
  `info`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from bot.domain.conversations import (
    Author,
    ConversationKey,
    ConversationNotFoundError,
    NewConversationKeys,
    Recipient,
)
from bot.security.counsellor_keys import (
    DEFAULT_ARGON2_PARAMS,
    Argon2Params,
    WrappedKey,
    protect_private_key,
    unlock_private_key,
)
from bot.security.errors import DecryptionError, InvalidCodeError, SecurityError
from bot.security.hpke import (
    Context,
    Direction,
    OpeningKey,
    generate_keypair,
    load_opening_key,
    seal,
    seal_secret,
)
from bot.security.label_keys import LabelKey, open_label_key, seal_label_key
from bot.security.receipts import (
    new_receipt_code,
    normalize_code,
    receipt_lookup,
    unwrap_with_code,
    wrap_with_code,
)
from bot.security.secret import Secret, TokenBytes
from bot.security.secretbox import derive_key

LOOKUP_PEPPER_PURPOSE = "portal/receipt-lookup-pepper"
WRAP_PEPPER_PURPOSE = "portal/receipt-wrap-pepper"


def _direction(author: Author) -> Direction:
    return Direction.EMPLOYEE if author is Author.EMPLOYEE else Direction.COUNSELLOR


def _code_label(conversation_id: UUID) -> str:
    return f"conversation-key:{conversation_id}"


class UnlockedConversationKey:
    """A conversation's private key in memory: opens its messages, can be re-sealed to a counsellor."""

    __slots__ = ("_opening", "_private")

    def __init__(self, private: Secret[bytes]) -> None:
        self._private = private
        self._opening: OpeningKey = load_opening_key(private)

    @property
    def private(self) -> Secret[bytes]:
        return self._private

    def open(self, ciphertext: bytes, *, conversation_id: UUID, author: Author, sequence: int) -> bytes:
        context = Context.message(str(conversation_id), _direction(author), sequence)
        return self._opening.open(ciphertext, context=context)

    def open_label(self, ciphertext: bytes, *, conversation_id: UUID) -> bytes:
        return self._opening.open(ciphertext, context=Context.label(str(conversation_id)))

    def __repr__(self) -> str:
        return "UnlockedConversationKey(***)"


class UnlockedCounsellorKey:
    """A counsellor's private key after the passphrase unlocked it."""

    __slots__ = ("_opening", "_private", "counsellor_id")

    def __init__(self, counsellor_id: UUID, private: Secret[bytes]) -> None:
        self.counsellor_id = counsellor_id
        self._private = private
        self._opening = load_opening_key(private)

    @property
    def private(self) -> Secret[bytes]:
        return self._private

    def open_share(self, share: bytes, *, conversation_id: UUID) -> ConversationKey:
        context = Context.conversation_key(str(conversation_id), str(self.counsellor_id))
        return UnlockedConversationKey(Secret(self._opening.open(share, context=context)))

    def open_label_key(self, share: bytes, *, label_key_id: UUID) -> LabelKey:
        """This counsellor's share of a label key (see `bot.security.label_keys`)."""
        return open_label_key(self._opening, share, label_key_id, self.counsellor_id)

    def __repr__(self) -> str:
        return "UnlockedCounsellorKey(***)"


@dataclass(frozen=True)
class CounsellorKeyMaterial:
    """What is stored for a counsellor: the public key and the passphrase-wrapped private key."""

    public_key: bytes
    wrapped_private: bytes

    def __repr__(self) -> str:
        return "CounsellorKeyMaterial(***)"


def new_counsellor_key(
    counsellor_id: UUID, passphrase: Secret[str], params: Argon2Params = DEFAULT_ARGON2_PARAMS
) -> tuple[CounsellorKeyMaterial, UnlockedCounsellorKey]:
    pair = generate_keypair()
    wrapped = protect_private_key(pair.private, passphrase, str(counsellor_id), params)
    return (
        CounsellorKeyMaterial(pair.public, wrapped.to_bytes()),
        UnlockedCounsellorKey(counsellor_id, pair.private),
    )


def unlock_counsellor_key(
    counsellor_id: UUID, wrapped_private: bytes, passphrase: Secret[str]
) -> UnlockedCounsellorKey:
    """Raises `WrongPassphraseError` (a `SecurityError`) for a wrong passphrase or a tampered blob."""
    private = unlock_private_key(WrappedKey.from_bytes(wrapped_private), passphrase, str(counsellor_id))
    return UnlockedCounsellorKey(counsellor_id, private)


def reseal_share(old: UnlockedCounsellorKey, share: bytes, conversation_id: UUID, new_public: bytes) -> bytes:
    """A conversation key share of `old`'s counsellor, re-sealed to their new public key (key rotation)."""
    key = old.open_share(share, conversation_id=conversation_id)
    assert isinstance(key, UnlockedConversationKey)  # noqa: S101 - open_share returns this type
    context = Context.conversation_key(str(conversation_id), str(old.counsellor_id))
    return seal_secret(new_public, key.private, context=context)


def reseal_label_key_share(
    old: UnlockedCounsellorKey, share: bytes, label_key_id: UUID, new_public: bytes
) -> bytes:
    """A label key share of `old`'s counsellor, re-sealed to their new public key (key rotation)."""
    return seal_label_key(new_public, old.open_label_key(share, label_key_id=label_key_id), old.counsellor_id)


class ConversationCrypto:
    """Implements the domain's `ConversationCrypto` port."""

    def __init__(self, master_key: Secret[bytes], *, token_bytes: TokenBytes = secrets.token_bytes) -> None:
        self._lookup_pepper = derive_key(master_key, LOOKUP_PEPPER_PURPOSE)
        self._wrap_pepper = derive_key(master_key, WRAP_PEPPER_PURPOSE)
        self._token_bytes = token_bytes

    def new_conversation(self, conversation_id: UUID, recipients: Sequence[Recipient]) -> NewConversationKeys:
        code = new_receipt_code(token_bytes=self._token_bytes)
        pair = generate_keypair(token_bytes=self._token_bytes)
        shares = {
            r.counsellor_id: seal_secret(
                r.public_key,
                pair.private,
                context=Context.conversation_key(str(conversation_id), str(r.counsellor_id)),
            )
            for r in recipients
        }
        return NewConversationKeys(
            code=code,
            lookup=receipt_lookup(code, self._lookup_pepper),
            public_key=pair.public,
            code_wrapped_key=wrap_with_code(
                pair.private,
                code,
                self._wrap_pepper,
                _code_label(conversation_id),
                token_bytes=self._token_bytes,
            ),
            shares=shares,
        )

    def lookup(self, code: Secret[str] | str) -> bytes:
        try:
            return receipt_lookup(normalize_code(code), self._lookup_pepper)
        except InvalidCodeError as exc:
            raise ConversationNotFoundError("no conversation for this code") from exc

    def key_from_code(
        self, conversation_id: UUID, code: Secret[str] | str, wrapped: bytes
    ) -> ConversationKey:
        try:
            private = unwrap_with_code(
                wrapped, normalize_code(code), self._wrap_pepper, _code_label(conversation_id)
            )
            return UnlockedConversationKey(private)
        except (DecryptionError, InvalidCodeError, SecurityError) as exc:
            raise ConversationNotFoundError("no conversation for this code") from exc

    def share_for(self, key: ConversationKey, conversation_id: UUID, recipient: Recipient) -> bytes:
        if not isinstance(key, UnlockedConversationKey):
            raise TypeError("a conversation key from this module is needed")
        context = Context.conversation_key(str(conversation_id), str(recipient.counsellor_id))
        return seal_secret(recipient.public_key, key.private, context=context)

    def seal(
        self, public_key: bytes, payload: bytes, *, conversation_id: UUID, author: Author, sequence: int
    ) -> bytes:
        context = Context.message(str(conversation_id), _direction(author), sequence)
        return seal(public_key, payload, context=context)

    def seal_label(self, public_key: bytes, payload: bytes, *, conversation_id: UUID) -> bytes:
        return seal(public_key, payload, context=Context.label(str(conversation_id)))

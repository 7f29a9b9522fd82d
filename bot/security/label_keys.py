"""The counsellors' label keys: what lets the inbox list open every conversation label with one public-key operation.

A label used to be sealed to its conversation's key pair (HPKE, like a message): listing twenty labelled
conversations then took forty hybrid KEM decapsulations. Now an organisation has a random 32-byte label key per
audience (every counsellor of the organisation; or, for conversations an employee addressed to one counsellor,
that counsellor and the deputies: the same people who hold the conversation's key). Each counsellor of the
audience holds the label key sealed to their own key pair (HPKE, context: the label key's id and the counsellor's
id); a label is sealed under the label key with ChaCha20-Poly1305, the conversation id and the label key's id bound
as associated data, so a label copied to another conversation does not open.

Formats: a label sealed under a label key is ``02 || SecretBox blob`` (the box's subkey derived for
`LABEL_PURPOSE`); a label of the first format is an HPKE payload (``01 || …``) sealed to the conversation's key and
still opens with it (`UnlockedConversationKey.open_label`).
"""

from __future__ import annotations

import secrets
from uuid import UUID

from bot.domain.conversations import LABEL_KEY_FORMAT, under_label_key
from bot.security import _encoding as enc
from bot.security.errors import DecryptionError
from bot.security.hpke import Context, OpeningKey, seal_secret
from bot.security.secret import Secret, TokenBytes, draw
from bot.security.secretbox import SecretBox

LABEL_KEY_LEN = 32
LABEL_PURPOSE = "inbox/conversation-label"
_FORMAT_BYTE = bytes([LABEL_KEY_FORMAT])


def _associated(label_key_id: UUID, conversation_id: UUID) -> bytes:
    return enc.frame(enc.text(str(label_key_id)), enc.text(str(conversation_id)))


class LabelKey:
    """A label key in memory, during one request: seals and opens the labels of its audience."""

    __slots__ = ("_box", "_secret", "id")

    def __init__(self, label_key_id: UUID, secret: Secret[bytes]) -> None:
        self.id = label_key_id
        self._secret = secret
        self._box = SecretBox(secret, LABEL_PURPOSE)

    @property
    def secret(self) -> Secret[bytes]:
        return self._secret

    def seal(self, payload: bytes, *, conversation_id: UUID) -> bytes:
        return _FORMAT_BYTE + self._box.encrypt(payload, _associated(self.id, conversation_id))

    def open(self, sealed: bytes, *, conversation_id: UUID) -> bytes:
        """Raises `DecryptionError` for a label of another key, conversation or format, or changed bytes."""
        blob = sealed[1:] if under_label_key(sealed) else b""
        return self._box.decrypt(blob, _associated(self.id, conversation_id))

    def __repr__(self) -> str:
        return "LabelKey(***)"


def new_label_key(label_key_id: UUID, *, token_bytes: TokenBytes = secrets.token_bytes) -> LabelKey:
    return LabelKey(label_key_id, Secret(draw(token_bytes, LABEL_KEY_LEN)))


def seal_label_key(public_key: bytes, key: LabelKey, recipient_id: UUID) -> bytes:
    """The label key sealed to one counsellor's public key."""
    return seal_secret(public_key, key.secret, context=Context.label_key(str(key.id), str(recipient_id)))


def open_label_key(opening: OpeningKey, share: bytes, label_key_id: UUID, recipient_id: UUID) -> LabelKey:
    """A counsellor's share of a label key, opened with their private key; `DecryptionError` otherwise."""
    secret = opening.open(share, context=Context.label_key(str(label_key_id), str(recipient_id)))
    if len(secret) != LABEL_KEY_LEN:
        raise DecryptionError("a label key of the wrong size")
    return LabelKey(label_key_id, Secret(secret))

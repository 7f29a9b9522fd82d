"""Tables of the confidential channel.

Nothing here holds plaintext, an IP address, a user agent or a platform user id. Dates are days, not times.
Whether an employee shared a name is inside the sealed opening message, not in a column. On SQLite the tables
below `conversation` have no hidden row number (WITHOUT ROWID, keyed by random ids): SQLite's rowid would number
messages, shares and classifications in the order they were written, across conversations.
`conversation_classification` is the only row that outlives its conversation (for the periodic report) and
carries no link to it once the conversation is gone.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.storage.tables import utcnow

# SQLite only; other databases ignore it. Made so by migration conversations_0003.
NO_ROWID = {"sqlite_with_rowid": False}


class CounsellorVaultRow(SQLModel, table=True):
    """A counsellor's key pair: public key in the clear, private key wrapped under their passphrase (Argon2id)."""

    __tablename__ = "counsellor_vault"

    counsellor_id: uuid.UUID = Field(foreign_key="counsellor.id", primary_key=True, ondelete="CASCADE")
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    wrapped_private: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    key_created_on: date
    digest_sent_at: datetime | None = Field(default=None)


class ConversationRow(SQLModel, table=True):
    __tablename__ = "conversation"

    id: uuid.UUID = Field(primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    receipt_lookup: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    code_wrapped_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(max_length=16, default="open")
    started_on: date
    last_activity_on: date
    expires_on: date = Field(index=True)
    next_sequence: int = Field(default=0)
    unread_for_counsellor: bool = Field(default=True)
    unread_for_employee: bool = Field(default=False)
    whistleblowing_on: date | None = Field(default=None)
    acknowledged_on: date | None = Field(default=None)
    feedback_on: date | None = Field(default=None)
    # The counsellor the employee chose: the conversation is sealed to them and the deputies only (the shares
    # say as much already); NULL: to every counsellor of the organisation. No foreign key: see migration
    # conversations_0004.
    counsellor_id: uuid.UUID | None = Field(default=None)
    # The counsellors' short label, padded to one size: sealed under the organisation's label key for the
    # conversation's audience, or (first format, still read) to the conversation's key like a message.
    sealed_label: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class ConversationShareRow(SQLModel, table=True):
    """The conversation's private key sealed to one counsellor's public key."""

    __tablename__ = "conversation_share"
    __table_args__ = NO_ROWID

    conversation_id: uuid.UUID = Field(foreign_key="conversation.id", primary_key=True, ondelete="CASCADE")
    counsellor_id: uuid.UUID = Field(foreign_key="counsellor.id", primary_key=True, ondelete="CASCADE")
    sealed_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LabelKeyRow(SQLModel, table=True):
    """An organisation's label key for one audience (`bot.security.label_keys`): its id and whom it serves only.

    The key exists in the database only sealed to each counsellor of the audience (`LabelKeyShareRow`). The id is
    derived from the organisation and the audience (`bot.domain.conversations.label_key_id`), so two counsellors
    making the first one at once cannot make two.
    """

    __tablename__ = "label_key"
    __table_args__ = NO_ROWID

    id: uuid.UUID = Field(primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    # The counsellor an employee addressed: the key serves that counsellor and the deputies; NULL: every
    # counsellor of the organisation. No foreign key, like `conversation.counsellor_id`.
    counsellor_id: uuid.UUID | None = Field(default=None)


class LabelKeyShareRow(SQLModel, table=True):
    """A label key sealed to one counsellor's public key."""

    __tablename__ = "label_key_share"
    __table_args__ = NO_ROWID

    label_key_id: uuid.UUID = Field(foreign_key="label_key.id", primary_key=True, ondelete="CASCADE")
    counsellor_id: uuid.UUID = Field(foreign_key="counsellor.id", primary_key=True, ondelete="CASCADE")
    sealed_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ConversationMessageRow(SQLModel, table=True):
    __tablename__ = "conversation_message"
    __table_args__ = (
        UniqueConstraint("conversation_id", "sequence", name="uq_conversation_message_sequence"),
        NO_ROWID,
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conversation_id: uuid.UUID = Field(foreign_key="conversation.id", index=True, ondelete="CASCADE")
    sequence: int
    author: str = Field(max_length=16)
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    day: date


class ConversationClassificationRow(SQLModel, table=True):
    """The counsellor's anonymous classification; survives expiry and deletion (its link is cleared)."""

    __tablename__ = "conversation_classification"
    __table_args__ = NO_ROWID

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    conversation_id: uuid.UUID | None = Field(
        default=None, foreign_key="conversation.id", unique=True, ondelete="SET NULL"
    )
    month: date = Field(index=True)
    category: str | None = Field(default=None, max_length=60)
    contact_type: str | None = Field(default=None, max_length=60)
    follow_up: str | None = Field(default=None, max_length=60)


class InboxUnlockRow(SQLModel, table=True):
    """An unlocked inbox: the counsellor's private key encrypted under a key that only the browser's cookie holds.

    Neither this row nor the cookie alone opens anything; locking deletes the row; rows past `expires_at` are
    refused and removed.
    """

    __tablename__ = "inbox_unlock"
    __table_args__ = NO_ROWID

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    counsellor_id: uuid.UUID = Field(foreign_key="counsellor.id", index=True, ondelete="CASCADE")
    sealed_private: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    expires_at: datetime = Field(default_factory=utcnow)


class PortalSessionRow(SQLModel, table=True):
    """A signed-in portal browser, so that "sign out on this device" can end it (the cookie alone cannot).

    Holds the SHA-256 of a random token that only the cookie carries, the organisation, and when it ends at the
    latest — rounded up to the hour and never moved by later requests, so no row records when an employee acted.
    Nothing links it to a conversation. `reveal_code`: the receipt code is still to be shown (once).
    """

    __tablename__ = "portal_session"

    token_hash: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    expires_at: datetime
    reveal_code: bool = Field(default=False)


class ConversationNoticeRow(SQLModel, table=True):
    """The employee's opt-in reply notice: where to say "there is a reply", and whether one is due.

    `sealed` holds the e-mail address and/or the browser's push subscription, encrypted under a key derived from
    the service's secret and bound to the conversation id, padded to one size whatever it holds (so the row does
    not say which option was chosen). It goes with the conversation. `due_at` is set, at a random delay, when a
    counsellor's reply waits unread, and cleared when the notice went (or the employee read the reply first);
    `notified_through` is the conversation's message count at the last notice, so each reply is told once.
    """

    __tablename__ = "conversation_notice"
    __table_args__ = NO_ROWID

    conversation_id: uuid.UUID = Field(foreign_key="conversation.id", primary_key=True, ondelete="CASCADE")
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    due_at: datetime | None = Field(default=None)
    notified_through: int = Field(default=0)

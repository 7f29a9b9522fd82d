"""Confidential conversations between an employee and the counsellors of their organisation (DESIGN §4).

Plain Python: the rules of the channel and the ports it needs. Encryption is behind `ConversationCrypto`
(implemented in `bot.security.conversation_keys`), rows behind `ConversationStore` (`bot.storage.conversations`).

- Every message, both directions, is sealed to the conversation's public key; what is stored is ciphertext,
  a sequence number, the author and the day (no finer time).
- The employee reaches the conversation with the receipt code only; the counsellors with their own key.
- Sequence numbers are bound into each ciphertext, so a message copied to another place does not open; a
  write must name the sequence number it expects, so a replayed or crossed form is refused, not stored twice.
- Expiry and deletion remove messages and keys; the anonymous classification stays for the report.
"""

from __future__ import annotations

import base64
import calendar
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol
from uuid import UUID, uuid4, uuid5

from bot.domain.clock import Clock
from bot.domain.secret import Secret
from bot.errors import VipbotError

MAX_MESSAGE_CHARS = 8000
MAX_IDENTITY_CHARS = 300
MAX_FILE_NAME_CHARS = 120
MAX_SLOTS = 8
# Plaintexts are padded to the next power of two, at least PAD_TO bytes (JSON never holds a raw zero byte, so the
# padding strips off unambiguously): a ciphertext's size then tells only which of a few buckets a message is in
# (up to ~2,000 bytes of text, up to 4 KiB, 8 KiB, ...). Storage cost in docs/portal.md.
PAD_TO = 2048
ACKNOWLEDGE_WITHIN = timedelta(days=7)
FEEDBACK_WITHIN_MONTHS = 3
WHISTLEBLOWING_FOLLOW_UP = "whistleblowing-report"
MAX_LABEL_CHARS = 60
# A label is padded to one size before it is sealed: its ciphertext says nothing about its length.
LABEL_PAD = 256


class Mode(StrEnum):
    ANONYMOUS = "anonymous"
    PSEUDONYMOUS = "pseudonymous"


class Status(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Author(StrEnum):
    EMPLOYEE = "employee"
    COUNSELLOR = "counsellor"


class InboxState(StrEnum):
    """Where a conversation stands for the counsellor, from who wrote last (stored in the clear per message)."""

    NEW = "new"  # open, and no counsellor has written yet
    WAITING_FOR_YOU = "waiting_for_you"  # open, the employee wrote last
    WAITING_FOR_EMPLOYEE = "waiting_for_employee"  # open, a counsellor wrote last
    CLOSED = "closed"

    @property
    def needs_counsellor(self) -> bool:
        return self in {InboxState.NEW, InboxState.WAITING_FOR_YOU}


class MessageKind(StrEnum):
    TEXT = "text"
    IDENTITY = "identity"  # the name or contact a pseudonymous employee chose to share
    FILE = "file"  # a PDF or an image, cleaned of its metadata before it was sealed
    SLOTS = "slots"  # times the counsellor offers for a call
    BOOKING = "booking"  # the time the employee picked


class ConversationError(VipbotError):
    """Base of the channel's refusals. Messages are fixed strings without identifiers."""


class ConversationNotFoundError(ConversationError):
    """No conversation for this code (or it expired, or it was deleted)."""


class StaleWriteError(ConversationError):
    """The write named another sequence number than the next one: a replayed or crossed form."""


class DamagedMessageError(ConversationError):
    """A stored ciphertext did not open in its place: tampered, replayed or reordered in storage."""


class ConversationClosedError(ConversationError):
    """The counsellor closed the conversation; nothing more can be written."""


class NoCounsellorError(ConversationError):
    """The organisation has no counsellor with a key yet: nobody could read a new conversation."""


class InvalidTextError(ConversationError):
    """Empty or too long."""


class InvalidSlotError(ConversationError):
    """A call time that is not among the open offer, or an offer without usable times."""


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class WhistleblowingClock:
    """The legal clock of a formal whistleblowing report: acknowledge within 7 days, feedback within 3 months."""

    reported_on: date
    acknowledged_on: date | None = None
    feedback_on: date | None = None

    @property
    def acknowledge_by(self) -> date:
        return self.reported_on + ACKNOWLEDGE_WITHIN

    @property
    def feedback_by(self) -> date:
        return add_months(self.reported_on, FEEDBACK_WITHIN_MONTHS)

    @property
    def open(self) -> bool:
        """A legal duty is still to be done: the conversation must not expire meanwhile."""
        return self.acknowledged_on is None or self.feedback_on is None

    def due(self, today: date) -> list[tuple[str, date, bool]]:
        """Open duties as (what, deadline, overdue), what being 'acknowledge' or 'feedback'."""
        duties: list[tuple[str, date, bool]] = []
        if self.acknowledged_on is None:
            duties.append(("acknowledge", self.acknowledge_by, today > self.acknowledge_by))
        if self.feedback_on is None:
            duties.append(("feedback", self.feedback_by, today > self.feedback_by))
        return duties


@dataclass(frozen=True, slots=True)
class Classification:
    category: str | None = None
    contact_type: str | None = None
    follow_up: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    id: UUID
    organisation_id: UUID
    status: Status
    started_on: date
    last_activity_on: date
    expires_on: date
    next_sequence: int
    unread_for_counsellor: bool
    unread_for_employee: bool
    classification: Classification
    whistleblowing: WhistleblowingClock | None
    chosen_counsellor: UUID | None = None  # the counsellor the employee addressed (with the deputies)
    last_author: Author | None = None
    counsellor_wrote: bool = False
    sealed_label: bytes | None = field(default=None, repr=False)

    @property
    def state(self) -> InboxState:
        if self.status is Status.CLOSED:
            return InboxState.CLOSED
        if not self.counsellor_wrote:
            return InboxState.NEW
        if self.last_author is Author.COUNSELLOR:
            return InboxState.WAITING_FOR_EMPLOYEE
        return InboxState.WAITING_FOR_YOU


@dataclass(frozen=True, slots=True)
class StoredMessage:
    sequence: int
    author: Author
    ciphertext: bytes = field(repr=False)
    day: date


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file inside a conversation: its name as sent, its media type (sniffed, not taken from the name)."""

    name: str = field(repr=False)
    media_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Message:
    sequence: int
    author: Author
    kind: MessageKind
    text: str = field(repr=False)
    day: date
    attachment: Attachment | None = None
    slots: tuple[datetime, ...] = ()  # SLOTS: the times offered; BOOKING: the one picked
    minutes: int = 0  # how long the call is meant to take


@dataclass(frozen=True, slots=True)
class Thread:
    summary: ConversationSummary
    messages: tuple[Message, ...]

    @property
    def mode(self) -> Mode:
        """Whether the employee shared a name or contact. Read from the sealed messages: no column says it."""
        shared = any(m.kind is MessageKind.IDENTITY for m in self.messages)
        return Mode.PSEUDONYMOUS if shared else Mode.ANONYMOUS

    @property
    def open_offer(self) -> Message | None:
        """The counsellor's latest offer of call times, while the employee has not picked one of it yet."""
        for message in reversed(self.messages):
            if message.kind is MessageKind.BOOKING:
                return None
            if message.kind is MessageKind.SLOTS:
                return message
        return None

    @property
    def booking(self) -> Message | None:
        return next((m for m in reversed(self.messages) if m.kind is MessageKind.BOOKING), None)

    def attachment(self, sequence: int) -> Attachment | None:
        found = next((m for m in self.messages if m.sequence == sequence and m.attachment), None)
        return found.attachment if found else None


@dataclass(frozen=True, slots=True)
class Recipient:
    """A counsellor who can read the organisation's conversations: id and serialized public key."""

    counsellor_id: UUID
    public_key: bytes = field(repr=False)
    deputy: bool = False


def recipients_for(recipients: Sequence[Recipient], chosen: UUID | None) -> list[Recipient]:
    """Who a new conversation is sealed to: everybody, or the counsellor the employee chose and the deputies."""
    if chosen is None:
        return list(recipients)
    return [r for r in recipients if r.counsellor_id == chosen or r.deputy]


@dataclass(frozen=True, slots=True)
class NewConversationKeys:
    code: Secret[str]
    lookup: bytes = field(repr=False)
    public_key: bytes = field(repr=False)
    code_wrapped_key: bytes = field(repr=False)
    shares: dict[UUID, bytes] = field(repr=False)


class ConversationKey(Protocol):
    """An unwrapped conversation private key, parsed once, held in memory only during a request."""

    def open(self, ciphertext: bytes, *, conversation_id: UUID, author: Author, sequence: int) -> bytes: ...

    def open_label(self, ciphertext: bytes, *, conversation_id: UUID) -> bytes: ...


class CounsellorKey(Protocol):
    """A counsellor's unlocked private key."""

    counsellor_id: UUID

    def open_share(self, share: bytes, *, conversation_id: UUID) -> ConversationKey: ...


class ConversationCrypto(Protocol):
    def new_conversation(
        self, conversation_id: UUID, recipients: Sequence[Recipient]
    ) -> NewConversationKeys: ...

    def lookup(self, code: Secret[str] | str) -> bytes:
        """The lookup value of a typed code; raises `ConversationNotFoundError` when it is malformed."""
        ...

    def key_from_code(
        self, conversation_id: UUID, code: Secret[str] | str, wrapped: bytes
    ) -> ConversationKey: ...

    def share_for(self, key: ConversationKey, conversation_id: UUID, recipient: Recipient) -> bytes: ...

    def seal(
        self, public_key: bytes, payload: bytes, *, conversation_id: UUID, author: Author, sequence: int
    ) -> bytes: ...

    def seal_label(self, public_key: bytes, payload: bytes, *, conversation_id: UUID) -> bytes: ...


class ConversationStore(Protocol):
    async def recipients(self, organisation_id: UUID) -> list[Recipient]: ...

    async def create(
        self,
        summary: ConversationSummary,
        keys: NewConversationKeys,
        first: Sequence[StoredMessage],
    ) -> None: ...

    async def find_by_lookup(self, organisation_id: UUID, lookup: bytes) -> tuple[ConversationSummary, bytes]:
        """The conversation and its code-wrapped key; `ConversationNotFoundError` otherwise."""
        ...

    async def get(self, organisation_id: UUID, conversation_id: UUID) -> ConversationSummary: ...

    async def public_key(self, conversation_id: UUID) -> bytes: ...

    async def write_target(self, organisation_id: UUID, conversation_id: UUID) -> tuple[bytes, Status, int]:
        """Public key, status and next sequence number, in one read."""
        ...

    async def share(self, conversation_id: UUID, counsellor_id: UUID) -> bytes: ...

    async def messages(self, conversation_id: UUID) -> list[StoredMessage]: ...

    async def append(
        self,
        organisation_id: UUID,
        conversation_id: UUID,
        message: StoredMessage,
        expires_on: date,
    ) -> None:
        """Store `message` if its sequence is the conversation's next one, else `StaleWriteError`."""
        ...

    async def mark_read(self, conversation_id: UUID, reader: Author) -> None: ...

    async def delete(self, organisation_id: UUID, conversation_id: UUID) -> None: ...

    async def set_label(self, organisation_id: UUID, conversation_id: UUID, sealed: bytes | None) -> None: ...


#: The first byte of a label sealed under a label key (`bot.security.label_keys`); a label of the first format, an
#: HPKE payload sealed to the conversation's key, starts with 1.
LABEL_KEY_FORMAT = 2


def under_label_key(sealed_label: bytes) -> bool:
    return sealed_label[:1] == bytes([LABEL_KEY_FORMAT])


@functools.lru_cache(maxsize=4096)  # asked once per row of every inbox list; a hash each time
def label_key_id(organisation_id: UUID, chosen_counsellor: UUID | None) -> UUID:
    """The id of the label key of an organisation's audience: every counsellor (`chosen_counsellor` None), or the
    counsellor an employee addressed and the deputies. Derived, so it needs no lookup and is made once."""
    return uuid5(organisation_id, f"label-key:{chosen_counsellor or 'all'}")


def padded_size(length: int) -> int:
    """The bucket a plaintext of `length` bytes is padded to: the next power of two, at least `PAD_TO`."""
    size = PAD_TO
    while size < length:
        size *= 2
    return size


def encode_payload(kind: MessageKind, text: str, identity: str | None = None) -> bytes:
    """JSON, padded with zero bytes to its bucket, so a ciphertext's size says little about the text.

    The opening message carries the name or contact a pseudonymous employee shares (`identity`) inside the same
    sealed payload: an anonymous and a pseudonymous conversation then look the same in the database.
    """
    fields = {"k": kind.value, "t": text}
    if identity is not None:
        fields["i"] = identity
    data = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return data + bytes(padded_size(len(data)) - len(data))


def encode_fields(fields: dict[str, object]) -> bytes:
    """Any message's JSON, padded like `encode_payload` (files and call times travel the same way as text)."""
    data = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return data + bytes(padded_size(len(data)) - len(data))


def decode_extras(payload: bytes) -> tuple[Attachment | None, tuple[datetime, ...], int]:
    """The file, call times and call length a sealed payload carries besides its text."""
    try:
        data = json.loads(payload.rstrip(b"\0").decode("utf-8"))
        attachment = None
        if "d" in data:
            attachment = Attachment(str(data["t"]), str(data["m"]), base64.b64decode(data["d"]))
        slots = tuple(datetime.fromisoformat(str(s)) for s in data.get("s", ()))
        return attachment, slots, int(data.get("n", 0))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DamagedMessageError("a message did not decode") from exc


def decode_payload(payload: bytes) -> tuple[MessageKind, str]:
    kind, text, _identity = decode_message(payload)
    return kind, text


def decode_message(payload: bytes) -> tuple[MessageKind, str, str | None]:
    """Kind, text and (in an opening message) the shared identity of a sealed payload."""
    try:
        data = json.loads(payload.rstrip(b"\0").decode("utf-8"))
        identity = data.get("i")
        return MessageKind(data["k"]), str(data["t"]), None if identity is None else str(identity)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DamagedMessageError("a message did not decode") from exc


def encode_label(label: str) -> bytes:
    data = label.encode("utf-8")
    return data + bytes(LABEL_PAD - len(data))


def decode_label(payload: bytes) -> str:
    try:
        return payload.rstrip(b"\0").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DamagedMessageError("a label did not decode") from exc


def clean_label(label: str) -> str | None:
    """One line of at most `MAX_LABEL_CHARS` characters; empty means no label."""
    value = " ".join(label.split())
    if len(value) > MAX_LABEL_CHARS:
        raise InvalidTextError("the label is too long")
    return value or None


def clean_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    value = text.replace("\r\n", "\n").strip()
    if not value:
        raise InvalidTextError("the message is empty")
    if len(value) > limit:
        raise InvalidTextError("the message is too long")
    return value


def expiry(day: date, retention_days: int) -> date:
    return day + timedelta(days=retention_days)


def today_in(clock: Clock) -> date:
    """Days are UTC days: coarse enough to say nothing about the hour."""
    return clock.now().date()


class ConversationService:
    """The employee's side and the counsellor's side of the channel, on top of the two ports."""

    def __init__(self, store: ConversationStore, crypto: ConversationCrypto, clock: Clock) -> None:
        self._store = store
        self._crypto = crypto
        self._clock = clock

    # -- employee ------------------------------------------------------------------------------------
    async def start(
        self,
        organisation_id: UUID,
        retention_days: int,
        mode: Mode,
        text: str,
        identity: str | None = None,
        counsellor_id: UUID | None = None,
    ) -> tuple[UUID, Secret[str]]:
        """A new conversation with its first message; returns its id and the receipt code (show it once).

        With `counsellor_id` (the employee chose a counsellor) it is sealed to that counsellor and the deputies.
        """
        body = clean_text(text)
        shared = clean_text(identity, MAX_IDENTITY_CHARS) if mode is Mode.PSEUDONYMOUS and identity else None
        everyone = await self._store.recipients(organisation_id)
        if all(r.counsellor_id != counsellor_id for r in everyone):
            counsellor_id = None  # no such counsellor (any more): the organisation's counsellors together
        recipients = recipients_for(everyone, counsellor_id)
        if not recipients:
            raise NoCounsellorError("no counsellor can read conversations of this organisation yet")
        conversation_id = uuid4()
        keys = self._crypto.new_conversation(conversation_id, recipients)
        today = today_in(self._clock)
        # One opening message whatever the mode: the shared name travels inside it (before, it was a message of
        # its own, and the number of opening messages told the modes apart).
        first = [
            StoredMessage(
                sequence=0,
                author=Author.EMPLOYEE,
                ciphertext=self._crypto.seal(
                    keys.public_key,
                    encode_payload(MessageKind.TEXT, body, shared),
                    conversation_id=conversation_id,
                    author=Author.EMPLOYEE,
                    sequence=0,
                ),
                day=today,
            )
        ]
        summary = ConversationSummary(
            id=conversation_id,
            organisation_id=organisation_id,
            status=Status.OPEN,
            started_on=today,
            last_activity_on=today,
            expires_on=expiry(today, retention_days),
            next_sequence=len(first),
            unread_for_counsellor=True,
            unread_for_employee=False,
            classification=Classification(),
            whistleblowing=None,
            chosen_counsellor=counsellor_id,
        )
        await self._store.create(summary, keys, first)
        return conversation_id, keys.code

    async def access(self, organisation_id: UUID, code: Secret[str] | str) -> tuple[UUID, ConversationKey]:
        """Find and unlock the conversation of a receipt code; `ConversationNotFoundError` for any wrong code."""
        lookup = self._crypto.lookup(code)
        summary, wrapped = await self._store.find_by_lookup(organisation_id, lookup)
        key = self._crypto.key_from_code(summary.id, code, wrapped)
        return summary.id, key

    async def read(
        self, organisation_id: UUID, conversation_id: UUID, key: ConversationKey, reader: Author
    ) -> Thread:
        summary = await self._store.get(organisation_id, conversation_id)
        stored = await self._store.messages(conversation_id)
        return await self.open_thread(summary, stored, key, reader)

    async def open_thread(
        self,
        summary: ConversationSummary,
        stored: Sequence[StoredMessage],
        key: ConversationKey,
        reader: Author,
    ) -> Thread:
        """The thread of messages read from storage (with `summary`, in one go), opened with the conversation's
        key; marked read for `reader`."""
        conversation_id = summary.id
        messages: list[Message] = []
        for expected, item in enumerate(stored):
            if item.sequence != expected:
                raise DamagedMessageError("a message is missing from the conversation")
            try:
                payload = key.open(
                    item.ciphertext,
                    conversation_id=conversation_id,
                    author=item.author,
                    sequence=item.sequence,
                )
            except VipbotError as exc:
                raise DamagedMessageError("a message did not open in its place") from exc
            kind, text, identity = decode_message(payload)
            if identity is not None:
                messages.append(Message(item.sequence, item.author, MessageKind.IDENTITY, identity, item.day))
            attachment, slots, minutes = (None, (), 0) if kind is MessageKind.TEXT else decode_extras(payload)
            messages.append(
                Message(item.sequence, item.author, kind, text, item.day, attachment, slots, minutes)
            )
        if len(stored) != summary.next_sequence:
            raise DamagedMessageError("the conversation has fewer messages than it should")
        unread = summary.unread_for_employee if reader is Author.EMPLOYEE else summary.unread_for_counsellor
        if unread:
            await self._store.mark_read(conversation_id, reader)
        return Thread(summary, tuple(messages))

    async def write(
        self,
        organisation_id: UUID,
        retention_days: int,
        conversation_id: UUID,
        author: Author,
        text: str,
        expected_sequence: int,
    ) -> int:
        """Seal and store one message at `expected_sequence`; returns the next sequence number."""
        fields: dict[str, object] = {"k": MessageKind.TEXT.value, "t": clean_text(text)}
        return await self._write(
            organisation_id, retention_days, conversation_id, author, fields, expected_sequence
        )

    async def send_file(
        self,
        organisation_id: UUID,
        retention_days: int,
        conversation_id: UUID,
        author: Author,
        attachment: Attachment,
        expected_sequence: int,
    ) -> int:
        """Seal a (cleaned) file as one message of the conversation."""
        fields: dict[str, object] = {
            "k": MessageKind.FILE.value,
            "t": clean_text(attachment.name, MAX_FILE_NAME_CHARS),
            "m": attachment.media_type,
            "d": base64.b64encode(attachment.data).decode("ascii"),
        }
        return await self._write(
            organisation_id, retention_days, conversation_id, author, fields, expected_sequence
        )

    async def offer_slots(
        self,
        organisation_id: UUID,
        retention_days: int,
        conversation_id: UUID,
        slots: Sequence[datetime],
        minutes: int,
        note: str,
        expected_sequence: int,
    ) -> int:
        """The counsellor offers times for a call (future, time-zone aware); the employee picks one."""
        now = self._clock.now()
        chosen = sorted({s for s in slots if s.tzinfo is not None and s > now})
        if not chosen or len(chosen) > MAX_SLOTS or not 5 <= minutes <= 240:
            raise InvalidSlotError("no usable call times")
        fields: dict[str, object] = {
            "k": MessageKind.SLOTS.value,
            "t": note.strip()[:MAX_IDENTITY_CHARS],
            "s": [s.isoformat() for s in chosen],
            "n": minutes,
        }
        return await self._write(
            organisation_id, retention_days, conversation_id, Author.COUNSELLOR, fields, expected_sequence
        )

    async def book_slot(
        self,
        organisation_id: UUID,
        retention_days: int,
        conversation_id: UUID,
        offer: Message,
        slot: datetime,
        expected_sequence: int,
    ) -> int:
        """The employee picks one of the open offer's times."""
        if offer.kind is not MessageKind.SLOTS or slot not in offer.slots or slot <= self._clock.now():
            raise InvalidSlotError("not an offered time")
        fields: dict[str, object] = {
            "k": MessageKind.BOOKING.value,
            "t": "",
            "s": [slot.isoformat()],
            "n": offer.minutes,
        }
        return await self._write(
            organisation_id, retention_days, conversation_id, Author.EMPLOYEE, fields, expected_sequence
        )

    async def _write(
        self,
        organisation_id: UUID,
        retention_days: int,
        conversation_id: UUID,
        author: Author,
        fields: dict[str, object],
        expected_sequence: int,
    ) -> int:
        public, status, next_sequence = await self._store.write_target(organisation_id, conversation_id)
        if status is Status.CLOSED:
            raise ConversationClosedError("the conversation is closed")
        if expected_sequence != next_sequence:
            raise StaleWriteError("the conversation moved on; this form was sent before or crossed another")
        today = today_in(self._clock)
        ciphertext = self._crypto.seal(
            public,
            encode_fields(fields),
            conversation_id=conversation_id,
            author=author,
            sequence=expected_sequence,
        )
        await self._store.append(
            organisation_id,
            conversation_id,
            StoredMessage(expected_sequence, author, ciphertext, today),
            expiry(today, retention_days),
        )
        return expected_sequence + 1

    async def delete(self, organisation_id: UUID, conversation_id: UUID) -> None:
        await self._store.delete(organisation_id, conversation_id)

    # -- counsellor ----------------------------------------------------------------------------------
    async def counsellor_key(self, counsellor: CounsellorKey, conversation_id: UUID) -> ConversationKey:
        share = await self._store.share(conversation_id, counsellor.counsellor_id)
        return counsellor.open_share(share, conversation_id=conversation_id)

    async def set_label(self, organisation_id: UUID, conversation_id: UUID, label: str) -> None:
        """The counsellors' short label of a conversation, sealed to its key like its messages (it may say what
        the conversation is about). An empty label removes it."""
        value = clean_label(label)
        sealed = None
        if value is not None:
            public = await self._store.public_key(conversation_id)
            sealed = self._crypto.seal_label(public, encode_label(value), conversation_id=conversation_id)
        await self._store.set_label(organisation_id, conversation_id, sealed)

    @staticmethod
    def label_of(summary: ConversationSummary, key: ConversationKey) -> str | None:
        if summary.sealed_label is None:
            return None
        try:
            return decode_label(key.open_label(summary.sealed_label, conversation_id=summary.id))
        except VipbotError as exc:
            raise DamagedMessageError("a label did not open in its place") from exc


def month_start(moment: date | datetime) -> date:
    return date(moment.year, moment.month, 1)

"""SQL storage of the confidential channel: implements the domain's `ConversationStore` and the counsellor side
(vaults, inbox listing, classification, whistleblowing dates, retention, digest bookkeeping).

Every query that reads an organisation's conversations filters on `organisation_id`.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import bindparam, delete, exists, func, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.conversations import (
    Author,
    Classification,
    ConversationNotFoundError,
    ConversationSummary,
    NewConversationKeys,
    Recipient,
    StaleWriteError,
    Status,
    StoredMessage,
    WhistleblowingClock,
    label_key_id,
    month_start,
    recipients_for,
    under_label_key,
)
from bot.domain.tenancy import CounsellorRole
from bot.errors import ConflictError, NotFoundError
from bot.storage.db import erase_wal, read, transaction
from bot.storage.tables import CounsellorRow, OrganisationCounsellorRow, OrganisationRow
from bot.storage.tables_console import ConsoleAccountRow
from bot.storage.tables_conversations import (
    ConversationClassificationRow,
    ConversationMessageRow,
    ConversationNoticeRow,
    ConversationRow,
    ConversationShareRow,
    CounsellorVaultRow,
    InboxUnlockRow,
    LabelKeyRow,
    LabelKeyShareRow,
)


@dataclass(frozen=True, slots=True)
class CounsellorInfo:
    id: UUID
    display_name: str
    email: str | None
    has_key: bool


@dataclass(frozen=True, slots=True)
class CounsellorView:
    """Everything the counsellor's conversation page reads, from one session."""

    summary: ConversationSummary
    share: bytes = field(repr=False)
    messages: list[StoredMessage] = field(repr=False)
    label_key_share: bytes | None = field(repr=False)


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class UnlockedRead(Generic[T]):
    """What a page read together with the browser's unlock row, in the same session (None: no such row)."""

    unlock: InboxUnlockRow | None = field(repr=False)
    found: T


@dataclass(frozen=True, slots=True)
class InboxListing:
    """The inbox list of one organisation: conversations with the counsellor's share of each key, and the
    counsellor's shares of the organisation's label keys (by label key id)."""

    conversations: list[tuple[ConversationSummary, bytes]] = field(repr=False)
    label_key_shares: dict[UUID, bytes] = field(repr=False)


@dataclass(frozen=True, slots=True)
class LabelTarget:
    """What labelling a conversation needs: whom its label key serves, this counsellor's share of that key (None
    when they hold none), and whether anybody holds that key."""

    chosen_counsellor: UUID | None
    label_key_share: bytes | None = field(repr=False)
    label_key_held: bool


@dataclass(frozen=True, slots=True)
class FirstFormatLabel:
    """A label still sealed to its conversation's key, with the counsellor's share of that key."""

    conversation_id: UUID
    organisation_id: UUID
    chosen_counsellor: UUID | None
    sealed_label: bytes = field(repr=False)
    share: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ClassificationCount:
    category: str | None
    contact_type: str | None
    follow_up: str | None
    count: int


def _last_author() -> Any:
    """Who wrote a conversation's last message (authors are stored in the clear with each message)."""
    return (
        select(ConversationMessageRow.author)
        .where(col(ConversationMessageRow.conversation_id) == col(ConversationRow.id))
        .order_by(col(ConversationMessageRow.sequence).desc())
        .limit(1)
        .scalar_subquery()
    )


def _counsellor_wrote() -> Any:
    return exists().where(
        col(ConversationMessageRow.conversation_id) == col(ConversationRow.id),
        col(ConversationMessageRow.author) == Author.COUNSELLOR.value,
    )


@dataclass(frozen=True, slots=True)
class CounsellorProfile:
    """What the portal shows of a counsellor who can read the organisation's conversations."""

    id: UUID
    name: str
    deputy: bool
    intro_nl: str | None
    intro_en: str | None
    photo_url: str | None

    def intro(self, locale: str) -> str | None:
        return (self.intro_en or self.intro_nl) if locale == "en" else (self.intro_nl or self.intro_en)


def _summary(
    row: ConversationRow,
    classification: ConversationClassificationRow | None,
    last_author: str | None = None,
    counsellor_wrote: bool = False,
) -> ConversationSummary:
    clock = (
        WhistleblowingClock(row.whistleblowing_on, row.acknowledged_on, row.feedback_on)
        if row.whistleblowing_on is not None
        else None
    )
    return ConversationSummary(
        id=row.id,
        organisation_id=row.organisation_id,
        status=Status(row.status),
        started_on=row.started_on,
        last_activity_on=row.last_activity_on,
        expires_on=row.expires_on,
        next_sequence=row.next_sequence,
        unread_for_counsellor=row.unread_for_counsellor,
        unread_for_employee=row.unread_for_employee,
        classification=Classification(
            classification.category if classification else None,
            classification.contact_type if classification else None,
            classification.follow_up if classification else None,
        ),
        whistleblowing=clock,
        last_author=Author(last_author) if last_author else None,
        counsellor_wrote=bool(counsellor_wrote),
        sealed_label=row.sealed_label,
        chosen_counsellor=row.counsellor_id,
    )


class SqlConversationStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # -- ConversationStore port -----------------------------------------------------------------------
    async def recipients(self, organisation_id: UUID) -> list[Recipient]:
        async with self._sessions() as session:
            rows = await session.exec(
                select(CounsellorVaultRow, OrganisationCounsellorRow.role)
                .join(
                    OrganisationCounsellorRow,
                    col(OrganisationCounsellorRow.counsellor_id) == col(CounsellorVaultRow.counsellor_id),
                )
                .where(col(OrganisationCounsellorRow.organisation_id) == organisation_id)
            )
            return [
                Recipient(r.counsellor_id, r.public_key, role == CounsellorRole.DEPUTY.value)
                for r, role in rows
            ]

    async def profiles(self, organisation_id: UUID) -> list[CounsellorProfile]:
        """The organisation's counsellors who hold a key (who can read a new conversation): primaries first."""
        async with self._sessions() as session:
            rows = await session.exec(
                select(CounsellorRow, OrganisationCounsellorRow.role)
                .join(
                    OrganisationCounsellorRow,
                    col(OrganisationCounsellorRow.counsellor_id) == col(CounsellorRow.id),
                )
                .join(CounsellorVaultRow, col(CounsellorVaultRow.counsellor_id) == col(CounsellorRow.id))
                .where(col(OrganisationCounsellorRow.organisation_id) == organisation_id)
                .order_by(col(OrganisationCounsellorRow.role).desc(), col(CounsellorRow.display_name))
            )
            return [
                CounsellorProfile(
                    c.id,
                    c.display_name,
                    role == CounsellorRole.DEPUTY.value,
                    c.intro_nl,
                    c.intro_en,
                    c.photo_url,
                )
                for c, role in rows
            ]

    async def create(
        self, summary: ConversationSummary, keys: NewConversationKeys, first: Sequence[StoredMessage]
    ) -> None:
        async with transaction(self._sessions) as session:
            session.add(
                ConversationRow(
                    id=summary.id,
                    organisation_id=summary.organisation_id,
                    receipt_lookup=keys.lookup,
                    public_key=keys.public_key,
                    code_wrapped_key=keys.code_wrapped_key,
                    status=summary.status.value,
                    started_on=summary.started_on,
                    last_activity_on=summary.last_activity_on,
                    expires_on=summary.expires_on,
                    next_sequence=summary.next_sequence,
                    unread_for_counsellor=summary.unread_for_counsellor,
                    unread_for_employee=summary.unread_for_employee,
                    counsellor_id=summary.chosen_counsellor,
                )
            )
            await session.flush()
            await _random_row_number(session, summary.id)
            for counsellor_id, sealed in keys.shares.items():
                session.add(
                    ConversationShareRow(
                        conversation_id=summary.id, counsellor_id=counsellor_id, sealed_key=sealed
                    )
                )
            for message in first:
                session.add(_message_row(summary.id, message))
            session.add(
                ConversationClassificationRow(
                    organisation_id=summary.organisation_id,
                    conversation_id=summary.id,
                    month=month_start(summary.started_on),
                )
            )

    async def find_by_lookup(self, organisation_id: UUID, lookup: bytes) -> tuple[ConversationSummary, bytes]:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(ConversationRow).where(
                        col(ConversationRow.receipt_lookup) == lookup,
                        col(ConversationRow.organisation_id) == organisation_id,
                    )
                )
            ).first()
            if row is None:
                raise ConversationNotFoundError("no conversation for this code")
            return _summary(row, await _classification(session, row.id)), row.code_wrapped_key

    async def get(self, organisation_id: UUID, conversation_id: UUID) -> ConversationSummary:
        async with self._sessions() as session:
            found = (
                await session.exec(
                    select(ConversationRow, _last_author(), _counsellor_wrote()).where(
                        col(ConversationRow.id) == conversation_id,
                        col(ConversationRow.organisation_id) == organisation_id,
                    )
                )
            ).first()
            if found is None:
                raise ConversationNotFoundError("no such conversation")
            row, last_author, wrote = found
            return _summary(row, await _classification(session, row.id), last_author, wrote)

    async def set_label(self, organisation_id: UUID, conversation_id: UUID, sealed: bytes | None) -> None:
        async with transaction(self._sessions) as session:
            row = await _conversation(session, organisation_id, conversation_id)
            row.sealed_label = sealed
            session.add(row)

    async def public_key(self, conversation_id: UUID) -> bytes:
        async with self._sessions() as session:
            row = await session.get(ConversationRow, conversation_id)
            if row is None:
                raise ConversationNotFoundError("no such conversation")
            return row.public_key

    async def write_target(self, organisation_id: UUID, conversation_id: UUID) -> tuple[bytes, Status, int]:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(
                        ConversationRow.public_key, ConversationRow.status, ConversationRow.next_sequence
                    ).where(
                        col(ConversationRow.id) == conversation_id,
                        col(ConversationRow.organisation_id) == organisation_id,
                    )
                )
            ).first()
            if row is None:
                raise ConversationNotFoundError("no such conversation")
            public, status, next_sequence = row
            return public, Status(status), next_sequence

    async def share(self, conversation_id: UUID, counsellor_id: UUID) -> bytes:
        async with self._sessions() as session:
            row = await session.get(ConversationShareRow, (conversation_id, counsellor_id))
            if row is None:
                raise ConversationNotFoundError("this counsellor holds no key for the conversation")
            return row.sealed_key

    async def messages(self, conversation_id: UUID) -> list[StoredMessage]:
        async with self._sessions() as session:
            rows = await session.exec(
                select(ConversationMessageRow)
                .where(col(ConversationMessageRow.conversation_id) == conversation_id)
                .order_by(col(ConversationMessageRow.sequence))
            )
            return [StoredMessage(r.sequence, Author(r.author), r.ciphertext, r.day) for r in rows]

    async def append(
        self, organisation_id: UUID, conversation_id: UUID, message: StoredMessage, expires_on: date
    ) -> None:
        employee = message.author is Author.EMPLOYEE
        try:
            async with transaction(self._sessions) as session:
                # Compare-and-set on next_sequence: of two writes naming the same sequence, one wins.
                result = await session.exec(
                    update(ConversationRow)
                    .where(
                        col(ConversationRow.id) == conversation_id,
                        col(ConversationRow.organisation_id) == organisation_id,
                        col(ConversationRow.next_sequence) == message.sequence,
                        col(ConversationRow.status) == Status.OPEN.value,
                    )
                    .values(
                        next_sequence=message.sequence + 1,
                        last_activity_on=message.day,
                        expires_on=expires_on,
                        unread_for_counsellor=True if employee else ConversationRow.unread_for_counsellor,
                        unread_for_employee=ConversationRow.unread_for_employee if employee else True,
                    )
                )
                if result.rowcount != 1:
                    raise StaleWriteError("the conversation moved on")
                session.add(_message_row(conversation_id, message))
        except IntegrityError as exc:
            raise StaleWriteError("the conversation moved on") from exc

    async def mark_read(self, conversation_id: UUID, reader: Author) -> None:
        values = (
            {"unread_for_employee": False} if reader is Author.EMPLOYEE else {"unread_for_counsellor": False}
        )
        async with transaction(self._sessions) as session:
            await session.exec(
                update(ConversationRow).where(col(ConversationRow.id) == conversation_id).values(**values)
            )

    async def delete(self, organisation_id: UUID, conversation_id: UUID) -> None:
        """Messages, keys and shares go; the classification stays, unlinked."""
        async with transaction(self._sessions) as session:
            await _conversation(session, organisation_id, conversation_id)
            await _destroy(session, [conversation_id])
        await erase_wal(self._sessions)

    # -- counsellors ----------------------------------------------------------------------------------
    async def add_counsellor(
        self,
        organisation_id: UUID,
        display_name: str,
        email: str | None,
        role: CounsellorRole,
        public_key: bytes,
        wrapped_private: bytes,
        today: date,
        counsellor_id: UUID | None = None,
    ) -> UUID:
        """A counsellor with a key pair, assigned to the organisation.

        One person is one counsellor row: an existing counsellor with this e-mail address (made by an earlier
        `counsellor add` or by a console invitation) gets the key, and a console account with this address
        (an administrator who is also the counsellor) is linked to the counsellor, so that it opens the inbox.
        """
        async with transaction(self._sessions) as session:
            org = await session.get(OrganisationRow, organisation_id)
            if org is None:
                raise NotFoundError("no such organisation")
            row: CounsellorRow | None = None
            account = await _account_by_email(session, email) if email else None
            if account is not None and account.role == "viewer":
                raise ConflictError(
                    f"{email} is a management viewer's console account, which can never open conversations"
                )
            if email:
                row = await _counsellor_of(session, email, account)
            if row is None:
                row = CounsellorRow(
                    id=counsellor_id or uuid.uuid4(),
                    practice_id=org.practice_id,
                    display_name=display_name,
                    email=email,
                )
                session.add(row)
                await session.flush()
            elif await session.get(CounsellorVaultRow, row.id) is not None:
                raise ConflictError(
                    f"{row.display_name} has a key already: to serve {org.slug} too, run "
                    f"'vipbot counsellor link \"{row.display_name}\" {org.slug}'; "
                    "for a new passphrase, 'vipbot counsellor rotate-key'"
                )
            if account is not None and account.counsellor_id is None:
                account.counsellor_id = row.id
                session.add(account)
            link = await session.get(OrganisationCounsellorRow, (organisation_id, row.id))
            if link is None:
                session.add(
                    OrganisationCounsellorRow(
                        organisation_id=organisation_id, counsellor_id=row.id, role=role.value
                    )
                )
            else:
                link.role = role.value
                session.add(link)
            session.add(
                CounsellorVaultRow(
                    counsellor_id=row.id,
                    public_key=public_key,
                    wrapped_private=wrapped_private,
                    key_created_on=today,
                )
            )
            return row.id

    async def set_key(
        self, counsellor_id: UUID, public_key: bytes, wrapped_private: bytes, today: date
    ) -> None:
        """A first key pair for an existing counsellor (made in the console); a second one is refused."""
        async with transaction(self._sessions) as session:
            if await session.get(CounsellorRow, counsellor_id) is None:
                raise NotFoundError("no such counsellor")
            if await session.get(CounsellorVaultRow, counsellor_id) is not None:
                raise ConflictError("this counsellor has a key already")
            session.add(
                CounsellorVaultRow(
                    counsellor_id=counsellor_id,
                    public_key=public_key,
                    wrapped_private=wrapped_private,
                    key_created_on=today,
                )
            )

    async def has_key(self, counsellor_id: UUID) -> bool:
        async with self._sessions() as session:
            return await session.get(CounsellorVaultRow, counsellor_id) is not None

    async def counsellor_by_email(self, email: str) -> UUID | None:
        """The counsellor this address belongs to: by the counsellor's own address, or the console account's."""
        async with self._sessions() as session:
            row = await _counsellor_of(session, email, await _account_by_email(session, email))
            return None if row is None else row.id

    async def link_counsellor(self, organisation_id: UUID, counsellor_id: UUID, role: CounsellorRole) -> None:
        async with transaction(self._sessions) as session:
            existing = await session.get(OrganisationCounsellorRow, (organisation_id, counsellor_id))
            if existing is None:
                session.add(
                    OrganisationCounsellorRow(
                        organisation_id=organisation_id, counsellor_id=counsellor_id, role=role.value
                    )
                )
            else:
                existing.role = role.value
                session.add(existing)

    async def unlink_counsellor(self, organisation_id: UUID, counsellor_id: UUID) -> int:
        """End a counsellor's assignment and destroy their copies of the organisation's conversation keys.

        Returns how many copies went. The console's "remove counsellor" goes through `remove_counsellor` too.
        """
        async with transaction(self._sessions) as session:
            removed = await remove_counsellor(session, organisation_id, counsellor_id)
        await erase_wal(self._sessions)
        return removed

    async def counsellors(self, organisation_id: UUID | None = None) -> list[CounsellorInfo]:
        async with self._sessions() as session:
            query = select(CounsellorRow).order_by(col(CounsellorRow.display_name))
            if organisation_id is not None:
                query = query.join(
                    OrganisationCounsellorRow,
                    col(OrganisationCounsellorRow.counsellor_id) == col(CounsellorRow.id),
                ).where(col(OrganisationCounsellorRow.organisation_id) == organisation_id)
            rows = list(await session.exec(query))
            keyed = set(await session.exec(select(CounsellorVaultRow.counsellor_id)))
            return [CounsellorInfo(r.id, r.display_name, r.email, r.id in keyed) for r in rows]

    async def find_counsellor(self, name_or_id: str) -> CounsellorInfo:
        everyone = await self.counsellors()
        matches = [c for c in everyone if str(c.id) == name_or_id or c.display_name == name_or_id]
        if len(matches) != 1:
            raise NotFoundError(
                f"no counsellor '{name_or_id}'"
                if not matches
                else f"several counsellors are called '{name_or_id}'"
            )
        return matches[0]

    async def vault(self, counsellor_id: UUID) -> CounsellorVaultRow:
        async with self._sessions() as session:
            row = await session.get(CounsellorVaultRow, counsellor_id)
            if row is None:
                raise NotFoundError("this counsellor has no key yet")
            return row

    async def organisations_of(self, counsellor_id: UUID) -> list[UUID]:
        async with self._sessions() as session:
            rows = await session.exec(
                select(OrganisationCounsellorRow.organisation_id).where(
                    col(OrganisationCounsellorRow.counsellor_id) == counsellor_id
                )
            )
            return list(rows)

    async def shares_of(self, counsellor_id: UUID) -> list[tuple[UUID, bytes]]:
        async with self._sessions() as session:
            rows = await session.exec(
                select(ConversationShareRow).where(col(ConversationShareRow.counsellor_id) == counsellor_id)
            )
            return [(r.conversation_id, r.sealed_key) for r in rows]

    async def replace_key(
        self,
        counsellor_id: UUID,
        public_key: bytes,
        wrapped_private: bytes,
        shares: dict[UUID, bytes],
        today: date,
        label_key_shares: dict[UUID, bytes] | None = None,
    ) -> None:
        """Key rotation in one transaction: the new key pair and every share (of conversation keys and of label
        keys) re-sealed to it; unlocks dropped."""
        async with transaction(self._sessions) as session:
            vault = await session.get(CounsellorVaultRow, counsellor_id)
            if vault is None:
                raise NotFoundError("this counsellor has no key yet")
            vault.public_key, vault.wrapped_private, vault.key_created_on = public_key, wrapped_private, today
            session.add(vault)
            for conversation_id, sealed in shares.items():
                await session.exec(
                    update(ConversationShareRow)
                    .where(
                        col(ConversationShareRow.conversation_id) == conversation_id,
                        col(ConversationShareRow.counsellor_id) == counsellor_id,
                    )
                    .values(sealed_key=sealed)
                )
            for label_key, sealed in (label_key_shares or {}).items():
                await session.exec(
                    update(LabelKeyShareRow)
                    .where(
                        col(LabelKeyShareRow.label_key_id) == label_key,
                        col(LabelKeyShareRow.counsellor_id) == counsellor_id,
                    )
                    .values(sealed_key=sealed)
                )
            await session.exec(
                delete(InboxUnlockRow).where(col(InboxUnlockRow.counsellor_id) == counsellor_id)
            )
        # The old wrapped key and the shares sealed to the old key are overwritten (zeroed by secure_delete);
        # until the log is emptied a copy of `-wal` still holds them, openable with the old passphrase.
        await erase_wal(self._sessions)

    async def missing_shares(self, counsellor_id: UUID) -> list[tuple[UUID, Recipient]]:
        """(conversation, co-counsellor) pairs where this counsellor holds a key and a co-counsellor does not."""
        found: list[tuple[UUID, Recipient]] = []
        async with self._sessions() as session:
            mine = list(
                await session.exec(
                    select(ConversationShareRow.conversation_id).where(
                        col(ConversationShareRow.counsellor_id) == counsellor_id
                    )
                )
            )
            for conversation_id in mine:
                conversation = await session.get(ConversationRow, conversation_id)
                if conversation is None:
                    continue
                holders = set(
                    await session.exec(
                        select(ConversationShareRow.counsellor_id).where(
                            col(ConversationShareRow.conversation_id) == conversation_id
                        )
                    )
                )
                everyone = await self.recipients(conversation.organisation_id)
                # A conversation the employee addressed to one counsellor goes to the deputies too, nobody else.
                for recipient in recipients_for(everyone, conversation.counsellor_id):
                    if recipient.counsellor_id not in holders:
                        found.append((conversation_id, recipient))
        return found

    async def add_share(self, conversation_id: UUID, counsellor_id: UUID, sealed: bytes) -> None:
        try:
            async with transaction(self._sessions) as session:
                session.add(
                    ConversationShareRow(
                        conversation_id=conversation_id, counsellor_id=counsellor_id, sealed_key=sealed
                    )
                )
        except IntegrityError:
            return  # another session shared it first

    # -- inbox ----------------------------------------------------------------------------------------
    async def inbox(self, counsellor_id: UUID) -> list[ConversationSummary]:
        """Conversations this counsellor holds a key for, most recent activity first."""
        return [summary for summary, _share in await self.inbox_with_shares(counsellor_id)]

    async def inbox_with_shares(
        self, counsellor_id: UUID, organisation_id: UUID | None = None
    ) -> list[tuple[ConversationSummary, bytes]]:
        """`inbox`, each with the counsellor's sealed share of its key."""
        params: dict[str, Any] = {"counsellor_id": counsellor_id}
        if organisation_id is not None:
            params["organisation_id"] = organisation_id
        statement = _listing(organisation_id is not None)

        def work(session: Session) -> list[tuple[ConversationSummary, bytes]]:
            return [_listed_summary(row) for row in session.connection().execute(statement, params)]

        return await read(self._sessions, work)

    async def inbox_listing(
        self, counsellor_id: UUID, organisation_id: UUID, unlock_id: UUID
    ) -> UnlockedRead[InboxListing]:
        """The inbox list of one organisation and the label key shares that open its labels, with the browser's
        unlock row: one read for the whole page. Nothing here is opened until the unlock row is."""

        def work(session: Session) -> UnlockedRead[InboxListing]:
            unlock = session.get(InboxUnlockRow, unlock_id)
            params = {"counsellor_id": counsellor_id, "organisation_id": organisation_id}
            conversations = [
                _listed_summary(row) for row in session.connection().execute(_listing(True), params)
            ]
            shares = session.exec(
                select(LabelKeyShareRow.label_key_id, LabelKeyShareRow.sealed_key)
                .join(LabelKeyRow, col(LabelKeyRow.id) == col(LabelKeyShareRow.label_key_id))
                .where(
                    col(LabelKeyShareRow.counsellor_id) == counsellor_id,
                    col(LabelKeyRow.organisation_id) == organisation_id,
                )
            )
            return UnlockedRead(unlock, InboxListing(conversations, dict(shares.all())))

        # Sealed data only (nothing here is opened): it may be answered again until the database changes.
        return await read(
            self._sessions, work, remember=("inbox_listing", counsellor_id, organisation_id, unlock_id)
        )

    async def counsellor_view(
        self, organisation_id: UUID, conversation_id: UUID, counsellor_id: UUID, unlock_id: UUID
    ) -> UnlockedRead[CounsellorView | None]:
        """A conversation as its counsellor opens it, with the browser's unlock row, in one read; None unless
        this counsellor holds a key for it in this organisation."""

        def work(session: Session) -> UnlockedRead[CounsellorView | None]:
            unlock = session.get(InboxUnlockRow, unlock_id)
            connection = session.connection()
            found = connection.execute(
                _one_listed(),
                {
                    "counsellor_id": counsellor_id,
                    "organisation_id": organisation_id,
                    "conversation_id": conversation_id,
                },
            ).first()
            if found is None:
                return UnlockedRead(unlock, None)
            summary, share = _listed_summary(found)
            messages = connection.execute(_messages(), {"conversation_id": conversation_id})
            label_share = None
            if summary.sealed_label is not None:
                label_row = session.get(
                    LabelKeyShareRow,
                    (label_key_id(organisation_id, summary.chosen_counsellor), counsellor_id),
                )
                label_share = None if label_row is None else label_row.sealed_key
            view = CounsellorView(
                summary,
                share,
                [
                    StoredMessage(sequence, Author(author), ciphertext, day)
                    for sequence, author, ciphertext, day in messages
                ],
                label_share,
            )
            return UnlockedRead(unlock, view)

        # Sealed data only (nothing here is opened): it may be answered again until the database changes.
        remember = ("counsellor_view", organisation_id, conversation_id, counsellor_id, unlock_id)
        return await read(self._sessions, work, remember=remember)

    # -- label keys -----------------------------------------------------------------------------------
    async def label_target(
        self, organisation_id: UUID, conversation_id: UUID, counsellor_id: UUID
    ) -> LabelTarget:
        async with self._sessions() as session:
            row = await _conversation(session, organisation_id, conversation_id)
            key_id = label_key_id(organisation_id, row.counsellor_id)
            holders = set(
                await session.exec(
                    select(LabelKeyShareRow.counsellor_id).where(col(LabelKeyShareRow.label_key_id) == key_id)
                )
            )
            share = (
                await _label_key_share(session, key_id, counsellor_id) if counsellor_id in holders else None
            )
            return LabelTarget(row.counsellor_id, share, bool(holders))

    async def add_label_key(
        self,
        organisation_id: UUID,
        chosen_counsellor: UUID | None,
        shares: dict[UUID, bytes],
    ) -> bool:
        """A new label key with its shares; False when another session made it first. A key nobody holds any
        more (every holder removed) is replaced: what it sealed could not be opened again anyway."""
        key_id = label_key_id(organisation_id, chosen_counsellor)
        try:
            async with transaction(self._sessions) as session:
                existing = await session.get(LabelKeyRow, key_id)
                if existing is not None:
                    held = (
                        await session.exec(
                            select(func.count())
                            .select_from(LabelKeyShareRow)
                            .where(col(LabelKeyShareRow.label_key_id) == key_id)
                        )
                    ).one()
                    if held:
                        return False
                    await session.delete(existing)
                    await session.flush()
                session.add(
                    LabelKeyRow(id=key_id, organisation_id=organisation_id, counsellor_id=chosen_counsellor)
                )
                await session.flush()
                for counsellor_id, sealed in shares.items():
                    session.add(
                        LabelKeyShareRow(label_key_id=key_id, counsellor_id=counsellor_id, sealed_key=sealed)
                    )
        except IntegrityError:
            return False
        return True

    async def label_key_shares_of(self, counsellor_id: UUID) -> list[tuple[UUID, bytes]]:
        async with self._sessions() as session:
            rows = await session.exec(
                select(LabelKeyShareRow.label_key_id, LabelKeyShareRow.sealed_key).where(
                    col(LabelKeyShareRow.counsellor_id) == counsellor_id
                )
            )
            return list(rows.all())

    async def missing_label_key_shares(self, counsellor_id: UUID) -> list[tuple[UUID, bytes, Recipient]]:
        """(label key, this counsellor's share of it, colleague) where the colleague belongs to the key's audience
        (as they would receive the conversations' keys) and holds no share yet."""
        found: list[tuple[UUID, bytes, Recipient]] = []
        async with self._sessions() as session:
            mine = (
                await session.exec(
                    select(LabelKeyRow, LabelKeyShareRow.sealed_key)
                    .join(LabelKeyShareRow, col(LabelKeyShareRow.label_key_id) == col(LabelKeyRow.id))
                    .where(col(LabelKeyShareRow.counsellor_id) == counsellor_id)
                )
            ).all()
            for key, sealed in mine:
                holders = set(
                    await session.exec(
                        select(LabelKeyShareRow.counsellor_id).where(
                            col(LabelKeyShareRow.label_key_id) == key.id
                        )
                    )
                )
                everyone = await self.recipients(key.organisation_id)
                for recipient in recipients_for(everyone, key.counsellor_id):
                    if recipient.counsellor_id not in holders:
                        found.append((key.id, sealed, recipient))
        return found

    async def add_label_key_share(self, key_id: UUID, counsellor_id: UUID, sealed: bytes) -> None:
        try:
            async with transaction(self._sessions) as session:
                session.add(
                    LabelKeyShareRow(label_key_id=key_id, counsellor_id=counsellor_id, sealed_key=sealed)
                )
        except IntegrityError:
            return  # another session shared it first

    async def first_format_labels(self, counsellor_id: UUID) -> list[FirstFormatLabel]:
        """Labels still sealed to their conversation's key, of conversations this counsellor holds a key for."""
        async with self._sessions() as session:
            rows = await session.exec(
                select(ConversationRow, ConversationShareRow.sealed_key)
                .join(
                    ConversationShareRow, col(ConversationShareRow.conversation_id) == col(ConversationRow.id)
                )
                .where(
                    col(ConversationShareRow.counsellor_id) == counsellor_id,
                    col(ConversationRow.sealed_label).is_not(None),
                )
            )
            return [
                FirstFormatLabel(row.id, row.organisation_id, row.counsellor_id, row.sealed_label, share)
                for row, share in rows
                if row.sealed_label is not None and not under_label_key(row.sealed_label)
            ]

    async def replace_label(
        self, organisation_id: UUID, conversation_id: UUID, old: bytes, new: bytes
    ) -> bool:
        """Re-seal a label in place unless it changed meanwhile (compare-and-set on the stored bytes)."""
        async with transaction(self._sessions) as session:
            result = await session.exec(
                update(ConversationRow)
                .where(
                    col(ConversationRow.id) == conversation_id,
                    col(ConversationRow.organisation_id) == organisation_id,
                    col(ConversationRow.sealed_label) == old,
                )
                .values(sealed_label=new)
            )
            return bool(result.rowcount == 1)

    async def holds_share(self, conversation_id: UUID, counsellor_id: UUID) -> UUID:
        """The conversation's organisation, if this counsellor holds a key for it; else not found."""
        async with self._sessions() as session:
            share = await session.get(ConversationShareRow, (conversation_id, counsellor_id))
            conversation = await session.get(ConversationRow, conversation_id)
            if share is None or conversation is None:
                raise ConversationNotFoundError("no such conversation in this inbox")
            return conversation.organisation_id

    async def set_status(self, organisation_id: UUID, conversation_id: UUID, status: Status) -> None:
        async with transaction(self._sessions) as session:
            row = await _conversation(session, organisation_id, conversation_id)
            row.status = status.value
            session.add(row)

    async def classify(
        self, organisation_id: UUID, conversation_id: UUID, classification: Classification, today: date
    ) -> None:
        """Record category, contact type and follow-up; a whistleblowing follow-up sets the legal clock.

        The clock runs from the conversation's first message (the day the report was received), not from the
        day the counsellor classified it."""
        async with transaction(self._sessions) as session:
            row = await _conversation(session, organisation_id, conversation_id)
            current = await _classification(session, conversation_id)
            if current is None:
                current = ConversationClassificationRow(
                    organisation_id=organisation_id,
                    conversation_id=conversation_id,
                    month=month_start(row.started_on),
                )
            current.category = classification.category
            current.contact_type = classification.contact_type
            current.follow_up = classification.follow_up
            session.add(current)
            if classification.follow_up == "whistleblowing-report" and row.whistleblowing_on is None:
                row.whistleblowing_on = row.started_on
                session.add(row)

    async def record_whistleblowing(
        self,
        organisation_id: UUID,
        conversation_id: UUID,
        *,
        acknowledged_on: date | None,
        feedback_on: date | None,
        retention_days: int | None = None,
    ) -> None:
        """Mark a legal duty done. With `retention_days`, it counts as activity: a conversation kept past its
        expiry for an open deadline is not erased the moment that deadline is met."""
        async with transaction(self._sessions) as session:
            row = await _conversation(session, organisation_id, conversation_id)
            if acknowledged_on is not None:
                row.acknowledged_on = acknowledged_on
            if feedback_on is not None:
                row.feedback_on = feedback_on
            done = acknowledged_on or feedback_on
            if retention_days is not None and done is not None:
                row.last_activity_on = max(row.last_activity_on, done)
                row.expires_on = max(row.expires_on, done + timedelta(days=retention_days))
            session.add(row)

    # -- unlocked inboxes -----------------------------------------------------------------------------
    async def add_unlock(
        self,
        counsellor_id: UUID,
        sealed_private: bytes,
        expires_at: datetime,
        *,
        unlock_id: UUID | None = None,
    ) -> UUID:
        row = InboxUnlockRow(
            id=unlock_id or uuid.uuid4(),
            counsellor_id=counsellor_id,
            sealed_private=sealed_private,
            expires_at=expires_at,
        )
        async with transaction(self._sessions) as session:
            session.add(row)
        return row.id

    async def unlock(self, unlock_id: UUID, now: datetime) -> InboxUnlockRow | None:
        async with self._sessions() as session:
            row = await session.get(InboxUnlockRow, unlock_id)
        return await self.current_unlock(row, now)

    async def current_unlock(self, row: InboxUnlockRow | None, now: datetime) -> InboxUnlockRow | None:
        """The unlock row if it has not expired; an expired one is removed."""
        if row is None:
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=now.tzinfo)
        if expires <= now:
            await self.remove_unlock(row.id)
            return None
        return row

    async def remove_unlock(self, unlock_id: UUID) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(delete(InboxUnlockRow).where(col(InboxUnlockRow.id) == unlock_id))

    # -- retention and reports ------------------------------------------------------------------------
    async def expire(self, today: date, now: datetime) -> int:
        """Destroy every conversation whose expiry day has passed, and stale inbox unlocks. Returns how many."""
        async with transaction(self._sessions) as session:
            rows = await session.exec(
                select(ConversationRow, col(OrganisationRow.retention_days)).join(
                    OrganisationRow, col(OrganisationRow.id) == col(ConversationRow.organisation_id)
                )
            )
            doomed: list[UUID] = []
            for row, retention_days in rows:
                conversation_id, last_activity, stored_expiry = row.id, row.last_activity_on, row.expires_on
                reported = row.whistleblowing_on
                if (
                    reported is not None
                    and WhistleblowingClock(reported, row.acknowledged_on, row.feedback_on).open
                ):
                    continue  # an open legal deadline: never erased before the duty is done
                # A shortened retention of the organisation applies at once; a longer one from the next message.
                due = min(stored_expiry, last_activity + timedelta(days=retention_days))
                if due <= today:
                    doomed.append(conversation_id)
                elif due < stored_expiry:
                    await session.exec(
                        update(ConversationRow)
                        .where(col(ConversationRow.id) == conversation_id)
                        .values(expires_on=due)
                    )
            if doomed:
                await _destroy(session, doomed)
            await session.exec(delete(InboxUnlockRow).where(col(InboxUnlockRow.expires_at) <= now))
        if doomed:
            await erase_wal(self._sessions)
        return len(doomed)

    async def classification_counts(
        self, organisation_id: UUID, period_start: date, period_end: date
    ) -> list[ClassificationCount]:
        """Counts per (category, contact type, follow-up) of conversations started in [start, end): by month.

        Includes conversations that have since expired or been deleted. Small counts are the report's concern.
        """
        async with self._sessions() as session:
            rows = await session.exec(
                select(
                    ConversationClassificationRow.category,
                    ConversationClassificationRow.contact_type,
                    ConversationClassificationRow.follow_up,
                    func.count(),
                )
                .where(
                    col(ConversationClassificationRow.organisation_id) == organisation_id,
                    col(ConversationClassificationRow.month) >= month_start(period_start),
                    col(ConversationClassificationRow.month) < period_end,
                )
                .group_by(
                    col(ConversationClassificationRow.category),
                    col(ConversationClassificationRow.contact_type),
                    col(ConversationClassificationRow.follow_up),
                )
            )
            return [ClassificationCount(c, t, f, int(n)) for c, t, f, n in rows]

    # -- digest ---------------------------------------------------------------------------------------
    async def digest_candidates(self) -> list[tuple[CounsellorInfo, datetime | None]]:
        async with self._sessions() as session:
            rows = await session.exec(
                select(CounsellorRow, CounsellorVaultRow).join(
                    CounsellorVaultRow, col(CounsellorVaultRow.counsellor_id) == col(CounsellorRow.id)
                )
            )
            return [(CounsellorInfo(c.id, c.display_name, c.email, True), v.digest_sent_at) for c, v in rows]

    async def claim_digest(self, counsellor_id: UUID, previous: datetime | None, now: datetime) -> bool:
        """Compare-and-set the last digest time, so that of several replicas only one sends."""
        async with transaction(self._sessions) as session:
            condition = (
                col(CounsellorVaultRow.digest_sent_at).is_(None)
                if previous is None
                else col(CounsellorVaultRow.digest_sent_at) == previous
            )
            result = await session.exec(
                update(CounsellorVaultRow)
                .where(col(CounsellorVaultRow.counsellor_id) == counsellor_id, condition)
                .values(digest_sent_at=now)
            )
            return bool(result.rowcount == 1)

    async def release_digest(self, counsellor_id: UUID, previous: datetime | None) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                update(CounsellorVaultRow)
                .where(col(CounsellorVaultRow.counsellor_id) == counsellor_id)
                .values(digest_sent_at=previous)
            )


async def _account_by_email(session: AsyncSession, email: str) -> ConsoleAccountRow | None:
    found = await session.exec(
        select(ConsoleAccountRow).where(col(ConsoleAccountRow.email) == email.strip().lower())
    )
    return found.first()


async def _counsellor_of(
    session: AsyncSession, email: str, account: ConsoleAccountRow | None
) -> CounsellorRow | None:
    """The counsellor an address names: the one a console account is linked to, else the one with the address
    (compared without case: Mira@praktijk.nl and mira@praktijk.nl are one person)."""
    if account is not None and account.counsellor_id is not None:
        return await session.get(CounsellorRow, account.counsellor_id)
    found = await session.exec(
        select(CounsellorRow)
        .where(func.lower(col(CounsellorRow.email)) == email.strip().lower())
        .order_by(col(CounsellorRow.display_name))
    )
    return found.first()


def _message_row(conversation_id: UUID, message: StoredMessage) -> ConversationMessageRow:
    return ConversationMessageRow(
        conversation_id=conversation_id,
        sequence=message.sequence,
        author=message.author.value,
        ciphertext=message.ciphertext,
        day=message.day,
    )


async def _conversation(
    session: AsyncSession, organisation_id: UUID, conversation_id: UUID
) -> ConversationRow:
    row = (
        await session.exec(
            select(ConversationRow).where(
                col(ConversationRow.id) == conversation_id,
                col(ConversationRow.organisation_id) == organisation_id,
            )
        )
    ).first()
    if row is None:
        raise ConversationNotFoundError("no such conversation")
    return row


async def _classification(
    session: AsyncSession, conversation_id: UUID
) -> ConversationClassificationRow | None:
    return (
        await session.exec(
            select(ConversationClassificationRow).where(
                col(ConversationClassificationRow.conversation_id) == conversation_id
            )
        )
    ).first()


#: What the inbox list reads of each conversation: columns, not ORM objects (the list is the counsellor's busiest
#: page; building a mapped object per row, with its keys and receipt lookup it never shows, costs more than the
#: query). Built once with bound parameters: SQLAlchemy compiles it once too.
_LISTED = (
    ConversationRow.id,
    ConversationRow.organisation_id,
    ConversationRow.status,
    ConversationRow.started_on,
    ConversationRow.last_activity_on,
    ConversationRow.expires_on,
    ConversationRow.next_sequence,
    ConversationRow.unread_for_counsellor,
    ConversationRow.unread_for_employee,
    ConversationRow.whistleblowing_on,
    ConversationRow.acknowledged_on,
    ConversationRow.feedback_on,
    ConversationRow.counsellor_id,
    ConversationRow.sealed_label,
    ConversationClassificationRow.category,
    ConversationClassificationRow.contact_type,
    ConversationClassificationRow.follow_up,
    ConversationShareRow.sealed_key,
)


@functools.cache
def _listing(by_organisation: bool) -> Any:
    statement = (
        sa_select(*(col(c) for c in _LISTED), _last_author(), _counsellor_wrote())
        .join(ConversationShareRow, col(ConversationShareRow.conversation_id) == col(ConversationRow.id))
        .outerjoin(
            ConversationClassificationRow,
            col(ConversationClassificationRow.conversation_id) == col(ConversationRow.id),
        )
        .where(col(ConversationShareRow.counsellor_id) == bindparam("counsellor_id"))
        .order_by(col(ConversationRow.last_activity_on).desc(), col(ConversationRow.started_on).desc())
    )
    if by_organisation:
        statement = statement.where(col(ConversationRow.organisation_id) == bindparam("organisation_id"))
    return statement


@functools.cache
def _one_listed() -> Any:
    """`_listing` of one conversation (also the check that this counsellor holds its key in this organisation)."""
    return _listing(True).where(col(ConversationRow.id) == bindparam("conversation_id"))


@functools.cache
def _messages() -> Any:
    return (
        sa_select(
            col(ConversationMessageRow.sequence),
            col(ConversationMessageRow.author),
            col(ConversationMessageRow.ciphertext),
            col(ConversationMessageRow.day),
        )
        .where(col(ConversationMessageRow.conversation_id) == bindparam("conversation_id"))
        .order_by(col(ConversationMessageRow.sequence))
    )


def _listed_summary(values: Sequence[Any]) -> tuple[ConversationSummary, bytes]:
    (
        conversation_id, organisation_id, status, started_on, last_activity_on, expires_on, next_sequence,
        unread_for_counsellor, unread_for_employee, whistleblowing_on, acknowledged_on, feedback_on,
        chosen, sealed_label, category, contact_type, follow_up, share, last_author, counsellor_wrote,
    ) = values  # fmt: skip
    summary = ConversationSummary(
        id=conversation_id,
        organisation_id=organisation_id,
        status=Status(status),
        started_on=started_on,
        last_activity_on=last_activity_on,
        expires_on=expires_on,
        next_sequence=next_sequence,
        unread_for_counsellor=unread_for_counsellor,
        unread_for_employee=unread_for_employee,
        classification=Classification(category, contact_type, follow_up),
        whistleblowing=WhistleblowingClock(whistleblowing_on, acknowledged_on, feedback_on)
        if whistleblowing_on is not None
        else None,
        last_author=Author(last_author) if last_author else None,
        counsellor_wrote=bool(counsellor_wrote),
        sealed_label=sealed_label,
        chosen_counsellor=chosen,
    )
    return summary, share


async def _label_key_share(session: AsyncSession, key_id: UUID, counsellor_id: UUID) -> bytes | None:
    row = await session.get(LabelKeyShareRow, (key_id, counsellor_id))
    return None if row is None else row.sealed_key


async def _random_row_number(session: AsyncSession, conversation_id: UUID) -> None:
    """SQLite: give the new conversation a random hidden row number instead of the next one.

    The `conversation` table keeps SQLite's rowid (tables refer to it; rebuilding it WITHOUT ROWID would cascade
    into them), and a rowid drawn in sequence would order conversations by the moment they were started. Same
    transaction as the insert: the sequential number never reaches the file or its log.
    """
    connection = await session.connection()
    if connection.dialect.name != "sqlite":
        return
    await connection.execute(
        text("UPDATE conversation SET rowid = :rowid WHERE id = :id"),
        {"rowid": secrets.randbits(62) + 1, "id": conversation_id.hex},
    )


async def remove_counsellor(session: AsyncSession, organisation_id: UUID, counsellor_id: UUID) -> int:
    """In `session`: end the assignment and delete the counsellor's shares of the organisation's conversation keys
    and label keys.

    Returns how many conversation key shares went. The caller calls `erase_wal` after the commit.
    """
    conversations = select(ConversationRow.id).where(col(ConversationRow.organisation_id) == organisation_id)
    result = await session.exec(
        delete(ConversationShareRow).where(
            col(ConversationShareRow.counsellor_id) == counsellor_id,
            col(ConversationShareRow.conversation_id).in_(conversations),
        )
    )
    label_keys = select(LabelKeyRow.id).where(col(LabelKeyRow.organisation_id) == organisation_id)
    await session.exec(
        delete(LabelKeyShareRow).where(
            col(LabelKeyShareRow.counsellor_id) == counsellor_id,
            col(LabelKeyShareRow.label_key_id).in_(label_keys),
        )
    )
    await session.exec(
        delete(OrganisationCounsellorRow).where(
            col(OrganisationCounsellorRow.organisation_id) == organisation_id,
            col(OrganisationCounsellorRow.counsellor_id) == counsellor_id,
        )
    )
    return int(result.rowcount or 0)


async def _destroy(session: AsyncSession, conversation_ids: list[UUID]) -> None:
    """Delete messages, shares, the reply notice and the conversation row (its keys); unlink the classification.

    On SQLite every connection runs with `secure_delete` (see `bot.storage.db`), so freed space becomes zeros;
    the caller then empties the write-ahead log with `erase_wal`. (PostgreSQL: see docs/portal.md on VACUUM.)
    """
    await session.exec(
        update(ConversationClassificationRow)
        .where(col(ConversationClassificationRow.conversation_id).in_(conversation_ids))
        .values(conversation_id=None)
    )
    await session.exec(
        delete(ConversationMessageRow).where(
            col(ConversationMessageRow.conversation_id).in_(conversation_ids)
        )
    )
    await session.exec(
        delete(ConversationShareRow).where(col(ConversationShareRow.conversation_id).in_(conversation_ids))
    )
    await session.exec(
        delete(ConversationNoticeRow).where(col(ConversationNoticeRow.conversation_id).in_(conversation_ids))
    )
    await session.exec(delete(ConversationRow).where(col(ConversationRow.id).in_(conversation_ids)))

"""The employee's opt-in reply notice, stored sealed beside the conversation (see `ConversationNoticeRow`).

What is kept is an e-mail address and/or a push subscription, encrypted under a key derived from the service's
secret and bound to the conversation id, padded to one size. A notice becomes due at a random delay after a
counsellor's reply is waiting unread; it is cancelled when the employee reads the reply first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.security.errors import SecurityError
from bot.security.secret import Secret
from bot.security.secretbox import SecretBox
from bot.security.webpush import PushSubscription
from bot.storage.db import erase_wal, transaction
from bot.storage.tables_conversations import ConversationNoticeRow, ConversationRow

NOTICE_PURPOSE = "portal/reply-notice"
SEALED_SIZE = 1536  # every sealed choice is this long before encryption, whatever it holds


@dataclass(frozen=True, slots=True)
class NoticeChoice:
    email: str | None = field(default=None, repr=False)
    push: PushSubscription | None = field(default=None, repr=False)

    @property
    def empty(self) -> bool:
        return self.email is None and self.push is None


@dataclass(frozen=True, slots=True)
class DueNotice:
    conversation_id: UUID
    through: int
    choice: NoticeChoice


def _aware(moment: datetime, like: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=like.tzinfo)


class SqlNotices:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], master: Secret[bytes]) -> None:
        self._sessions = sessions
        self._box = SecretBox(master, NOTICE_PURPOSE)

    def _seal(self, conversation_id: UUID, choice: NoticeChoice) -> bytes:
        fields: dict[str, object] = {}
        if choice.email is not None:
            fields["e"] = choice.email
        if choice.push is not None:
            fields["p"] = [choice.push.endpoint, choice.push.p256dh, choice.push.auth]
        data = json.dumps(fields, separators=(",", ":")).encode("utf-8")
        if len(data) > SEALED_SIZE:
            raise ValueError("notice choice too long")
        return self._box.encrypt(data + bytes(SEALED_SIZE - len(data)), conversation_id.bytes)

    def _open(self, conversation_id: UUID, sealed: bytes) -> NoticeChoice:
        data = json.loads(self._box.decrypt(sealed, conversation_id.bytes).rstrip(b"\0"))
        push = data.get("p")
        return NoticeChoice(
            email=data.get("e"),
            push=PushSubscription(str(push[0]), str(push[1]), str(push[2])) if push else None,
        )

    async def choice(self, conversation_id: UUID) -> NoticeChoice:
        async with self._sessions() as session:
            row = await session.get(ConversationNoticeRow, conversation_id)
        if row is None:
            return NoticeChoice()
        try:
            return self._open(conversation_id, row.sealed)
        except (SecurityError, ValueError, TypeError, IndexError):
            return NoticeChoice()

    async def choose(self, conversation_id: UUID, choice: NoticeChoice) -> None:
        """Keep (or, for an empty choice, erase) the employee's notice choice."""
        if choice.empty:
            await self.erase(conversation_id)
            return
        sealed = self._seal(conversation_id, choice)
        async with transaction(self._sessions) as session:
            conversation = await session.get(ConversationRow, conversation_id)
            if conversation is None:
                return
            row = await session.get(ConversationNoticeRow, conversation_id)
            if row is None:
                row = ConversationNoticeRow(
                    conversation_id=conversation_id,
                    sealed=sealed,
                    notified_through=conversation.next_sequence,
                )
            row.sealed = sealed
            session.add(row)
        await erase_wal(self._sessions)  # the former choice, overwritten, leaves no copy in the log

    async def erase(self, conversation_id: UUID) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                delete(ConversationNoticeRow).where(
                    col(ConversationNoticeRow.conversation_id) == conversation_id
                )
            )
        await erase_wal(self._sessions)

    async def due(self, now: datetime, delay: Callable[[], timedelta]) -> list[DueNotice]:
        """Notices to send now. Arms a notice (at `now + delay()`) for each reply waiting unread, and disarms
        those whose reply the employee read in the meantime."""
        ready: list[DueNotice] = []
        async with transaction(self._sessions) as session:
            rows = await session.exec(
                select(
                    ConversationNoticeRow, ConversationRow.unread_for_employee, ConversationRow.next_sequence
                )
                .join(ConversationRow, col(ConversationRow.id) == col(ConversationNoticeRow.conversation_id))
                .where(
                    (col(ConversationNoticeRow.due_at).is_not(None))
                    | (col(ConversationRow.unread_for_employee).is_(True))
                )
            )
            for row, unread, next_sequence in list(rows):
                if not unread:
                    row.due_at = None
                    row.notified_through = next_sequence
                elif row.due_at is None:
                    if next_sequence > row.notified_through:
                        row.due_at = (now + delay()).replace(microsecond=0)
                    else:
                        continue
                elif _aware(row.due_at, now) <= now:
                    # Claimed by compare-and-set: of several replicas, one sends.
                    claimed = await session.exec(
                        update(ConversationNoticeRow)
                        .where(
                            col(ConversationNoticeRow.conversation_id) == row.conversation_id,
                            col(ConversationNoticeRow.due_at) == row.due_at,
                        )
                        .values(due_at=None, notified_through=next_sequence)
                    )
                    if claimed.rowcount != 1:
                        continue
                    try:
                        choice = self._open(row.conversation_id, row.sealed)
                    except (SecurityError, ValueError, TypeError, IndexError):
                        continue
                    ready.append(DueNotice(row.conversation_id, next_sequence, choice))
                    continue
                else:
                    continue
                session.add(row)
        return ready

    async def retry(self, notice: DueNotice, at: datetime) -> None:
        """The notice did not go (mail server or push service away): try again at `at`."""
        async with transaction(self._sessions) as session:
            await session.exec(
                update(ConversationNoticeRow)
                .where(col(ConversationNoticeRow.conversation_id) == notice.conversation_id)
                .values(due_at=at)
            )

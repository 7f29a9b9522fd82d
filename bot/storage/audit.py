"""The audit log's storage (`console_audit`); see `bot.usecases.audit`."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Delete, delete
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.domain.audit import AuditAction, AuditEntry, AuditPage, AuditQuery
from bot.storage.db import erase_wal, session_factory, transaction
from bot.storage.tables_console import ConsoleAuditRow, aware

KNOWN = frozenset(a.value for a in AuditAction)


class SqlAuditStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)

    async def add(self, entry: AuditEntry) -> None:
        async with transaction(self._sessions) as session:
            session.add(
                ConsoleAuditRow(
                    at=entry.at,
                    actor_account_id=entry.actor_account_id,
                    action=entry.action.value,
                    organisation_id=entry.organisation_id,
                    subject=entry.subject,
                )
            )

    async def add_once(self, entry: AuditEntry) -> None:
        """One row per moment, actor, action and organisation (two replicas racing may both add one: harmless)."""
        async with transaction(self._sessions) as session:
            there = await session.exec(
                select(col(ConsoleAuditRow.id))
                .where(
                    col(ConsoleAuditRow.at) == entry.at,
                    col(ConsoleAuditRow.action) == entry.action.value,
                    col(ConsoleAuditRow.actor_account_id).is_(None)
                    if entry.actor_account_id is None
                    else col(ConsoleAuditRow.actor_account_id) == entry.actor_account_id,
                    col(ConsoleAuditRow.organisation_id).is_(None)
                    if entry.organisation_id is None
                    else col(ConsoleAuditRow.organisation_id) == entry.organisation_id,
                )
                .limit(1)
            )
            if there.first() is None:
                session.add(
                    ConsoleAuditRow(
                        at=entry.at,
                        actor_account_id=entry.actor_account_id,
                        action=entry.action.value,
                        organisation_id=entry.organisation_id,
                        subject=entry.subject,
                    )
                )

    async def list(self, query: AuditQuery) -> AuditPage:
        statement = select(ConsoleAuditRow)
        if query.action is not None:
            statement = statement.where(col(ConsoleAuditRow.action) == query.action.value)
        if query.organisation_id is not None:
            statement = statement.where(col(ConsoleAuditRow.organisation_id) == query.organisation_id)
        page = max(query.page, 1)
        statement = (
            statement.order_by(col(ConsoleAuditRow.id).desc())
            .offset((page - 1) * query.page_size)
            .limit(query.page_size + 1)  # one more says whether a next page exists
        )
        async with self._sessions() as session:
            rows = (await session.exec(statement)).all()
        entries = [
            AuditEntry(
                at=aware(row.at),
                actor_account_id=row.actor_account_id,
                action=AuditAction(row.action),
                organisation_id=row.organisation_id,
                subject=row.subject,
                id=row.id,
            )
            for row in rows[: query.page_size]
            if row.action in KNOWN
        ]
        return AuditPage(entries, page, len(rows) > query.page_size)

    async def purge_before(
        self,
        moment: datetime,
        actions: frozenset[AuditAction] | None = None,
        organisation_id: UUID | None = None,
    ) -> int:
        statement = delete(ConsoleAuditRow).where(col(ConsoleAuditRow.at) < moment)
        if actions is not None:
            statement = statement.where(col(ConsoleAuditRow.action).in_([a.value for a in actions]))
        if organisation_id is not None:
            statement = statement.where(col(ConsoleAuditRow.organisation_id) == organisation_id)
        return await self._purge(statement)

    async def purge_unlisted(self, actions: frozenset[AuditAction], organisation_ids: set[UUID]) -> int:
        organisation = col(ConsoleAuditRow.organisation_id)
        statement = delete(ConsoleAuditRow).where(
            col(ConsoleAuditRow.action).in_([a.value for a in actions]),
            organisation.is_(None) | organisation.not_in(list(organisation_ids)),
        )
        return await self._purge(statement)

    async def _purge(self, statement: Delete) -> int:
        async with transaction(self._sessions) as session:
            result = await session.exec(statement)
            gone = int(result.rowcount or 0)
        if gone:
            # What was purged must not stay readable in SQLite's write-ahead log (rows are zeroed in the file by
            # secure_delete): an action on a conversation says when the conversation was active.
            await erase_wal(self._sessions)
        return gone

"""The audit log's storage (`console_audit`); see `bot.usecases.audit`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from bot.domain.audit import AuditAction, AuditEntry, AuditPage, AuditQuery
from bot.storage.db import session_factory, transaction
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

    async def list(self, query: AuditQuery) -> AuditPage:
        # Columns, not ORM objects: a page of rows is read on every visit of the audit log.
        statement = select(
            col(ConsoleAuditRow.id),
            col(ConsoleAuditRow.at),
            col(ConsoleAuditRow.actor_account_id),
            col(ConsoleAuditRow.action),
            col(ConsoleAuditRow.organisation_id),
            col(ConsoleAuditRow.subject),
        )
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
            rows = (await (await session.connection()).execute(statement)).all()
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

    async def purge_before(self, moment: datetime) -> int:
        async with transaction(self._sessions) as session:
            result = await session.exec(delete(ConsoleAuditRow).where(col(ConsoleAuditRow.at) < moment))
            return int(result.rowcount or 0)

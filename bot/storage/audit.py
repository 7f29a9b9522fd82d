"""The audit log's storage (`console_audit`); see `bot.usecases.audit`."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Delete, Integer, bindparam, delete
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Session, col, select

from bot.domain.audit import AuditAction, AuditEntry, AuditPage, AuditQuery
from bot.storage.db import erase_wal, read, session_factory, transaction
from bot.storage.tables_console import ConsoleAuditRow, aware

KNOWN = frozenset(a.value for a in AuditAction)


@functools.cache
def _page(by_action: bool, by_organisation: bool) -> Any:
    """The page query for one shape of filter, built once with bound parameters (compiled once too)."""
    statement = sa_select(
        col(ConsoleAuditRow.id),
        col(ConsoleAuditRow.at),
        col(ConsoleAuditRow.actor_account_id),
        col(ConsoleAuditRow.action),
        col(ConsoleAuditRow.organisation_id),
        col(ConsoleAuditRow.subject),
    )
    if by_action:
        statement = statement.where(col(ConsoleAuditRow.action) == bindparam("action"))
    if by_organisation:
        statement = statement.where(col(ConsoleAuditRow.organisation_id) == bindparam("organisation_id"))
    return (
        statement.order_by(col(ConsoleAuditRow.id).desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )


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
        """One page, newest first: LIMIT/OFFSET in SQL along the primary key (or the action's or organisation's
        index, which SQLite keeps in id order), read as columns, not mapped objects."""
        page = max(query.page, 1)
        params: dict[str, object] = {"limit": query.page_size + 1, "offset": (page - 1) * query.page_size}
        if query.action is not None:
            params["action"] = query.action.value
        if query.organisation_id is not None:
            params["organisation_id"] = query.organisation_id
        statement = _page(query.action is not None, query.organisation_id is not None)

        def work(session: Session) -> AuditPage:
            rows = session.connection().execute(statement, params).all()
            entries = [
                AuditEntry(
                    at=aware(at),
                    actor_account_id=actor,
                    action=AuditAction(action),
                    organisation_id=organisation_id,
                    subject=subject,
                    id=entry_id,
                )
                for entry_id, at, actor, action, organisation_id, subject in rows[: query.page_size]
                if action in KNOWN
            ]
            return AuditPage(entries, page, len(rows) > query.page_size)

        # Answered again until the next commit (an action logged, a purge): the log changes only by commits.
        return await read(self._sessions, work, remember=("audit_page", query))

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

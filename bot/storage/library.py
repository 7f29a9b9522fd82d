"""The practice-wide library and the organisations' codes of conduct, in the database.

API note: a practice item added to an organisation becomes one of its own items (`own:<uuid>`, see
`console_content.py`), linked in `practice_copy`; saving the practice item rewrites every copy in the same
transaction, so no organisation keeps an old text. Every method that reads an organisation's rows filters on
its id.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.conduct import Conduct
from bot.domain.content import Text
from bot.errors import ConflictError, NotFoundError
from bot.storage.console_content import KINDS, ItemDraft, item_fields, write_item
from bot.storage.db import transaction
from bot.storage.tables_console import ConsoleItemRow, aware
from bot.storage.tables_library import OrganisationConductRow, PracticeCopyRow, PracticeItemRow


@dataclass(frozen=True, slots=True)
class PracticeItem:
    id: UUID
    kind: str
    slug: str
    theme: str
    reading_minutes: int
    title: Text
    summary: Text
    body: Text
    updated_at: datetime

    @property
    def draft(self) -> ItemDraft:
        return ItemDraft(
            self.kind, self.slug, self.theme, self.reading_minutes, self.title, self.summary, self.body
        )


def _item(row: PracticeItemRow) -> PracticeItem:
    return PracticeItem(id=row.id, updated_at=aware(row.updated_at), **item_fields(row))


class SqlPracticeLibrary:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def items(self) -> list[PracticeItem]:
        async with self._sessions() as session:
            rows = (
                await session.exec(select(PracticeItemRow).order_by(col(PracticeItemRow.updated_at).desc()))
            ).all()
        return [_item(r) for r in rows]

    async def get(self, item_id: UUID) -> PracticeItem | None:
        async with self._sessions() as session:
            row = await session.get(PracticeItemRow, item_id)
        return None if row is None else _item(row)

    async def save(
        self, draft: ItemDraft, now: datetime, by: UUID | None, item_id: UUID | None = None
    ) -> PracticeItem:
        """Write the practice item and rewrite every organisation's copy of it in one transaction."""
        if draft.kind not in KINDS:
            raise ValueError("unknown kind")
        async with transaction(self._sessions) as session:
            clash = (
                await session.exec(
                    select(PracticeItemRow.id)
                    .where(col(PracticeItemRow.kind) == draft.kind)
                    .where(col(PracticeItemRow.slug) == draft.slug)
                )
            ).first()
            if clash is not None and clash != item_id:
                raise ConflictError("a practice item with this short name exists already")
            if item_id is None:
                row = PracticeItemRow(
                    kind=draft.kind, slug=draft.slug, title_nl="", body_nl="", created_at=now
                )
            else:
                found = await session.get(PracticeItemRow, item_id)
                if found is None:
                    raise NotFoundError("no such practice item")
                row = found
            row.slug = draft.slug
            write_item(row, draft, now, by)
            session.add(row)
            await session.flush()
            copies = (
                await session.exec(
                    select(ConsoleItemRow)
                    .join(PracticeCopyRow, col(PracticeCopyRow.console_item_id) == col(ConsoleItemRow.id))
                    .where(col(PracticeCopyRow.practice_item_id) == row.id)
                )
            ).all()
            for copy in copies:
                write_item(copy, draft, now, by)
                session.add(copy)
            return _item(row)

    async def remove(self, item_id: UUID) -> None:
        """The practice item and every organisation's copy (their schedules then name a removed item)."""
        async with transaction(self._sessions) as session:
            copies = (
                await session.exec(
                    select(PracticeCopyRow.console_item_id).where(
                        col(PracticeCopyRow.practice_item_id) == item_id
                    )
                )
            ).all()
            if copies:
                await session.exec(delete(ConsoleItemRow).where(col(ConsoleItemRow.id).in_(list(copies))))
            await session.exec(delete(PracticeItemRow).where(col(PracticeItemRow.id) == item_id))

    async def copies(self, item_id: UUID) -> dict[UUID, UUID]:
        """organisation id → the organisation's own item that carries this practice item."""
        async with self._sessions() as session:
            rows = (
                await session.exec(
                    select(PracticeCopyRow).where(col(PracticeCopyRow.practice_item_id) == item_id)
                )
            ).all()
        return {r.organisation_id: r.console_item_id for r in rows}

    async def add_to(
        self, item_id: UUID, organisation_ids: Iterable[UUID], now: datetime, by: UUID | None
    ) -> dict[UUID, UUID]:
        """Give each organisation its copy (once); returns organisation id → own item id for all of them."""
        async with transaction(self._sessions) as session:
            row = await session.get(PracticeItemRow, item_id)
            if row is None:
                raise NotFoundError("no such practice item")
            item = _item(row)
            have = {
                r.organisation_id: r.console_item_id
                for r in (
                    await session.exec(
                        select(PracticeCopyRow).where(col(PracticeCopyRow.practice_item_id) == item_id)
                    )
                ).all()
            }
            for organisation_id in organisation_ids:
                if organisation_id in have:
                    continue
                taken = set(
                    (
                        await session.exec(
                            select(ConsoleItemRow.slug)
                            .where(col(ConsoleItemRow.organisation_id) == organisation_id)
                            .where(col(ConsoleItemRow.kind) == item.kind)
                        )
                    ).all()
                )
                slug, n = item.slug, 2
                while slug in taken:  # the organisation wrote its own item with this short name
                    slug, n = f"{item.slug[:55]}-{n}", n + 1
                copy = ConsoleItemRow(
                    organisation_id=organisation_id,
                    kind=item.kind,
                    slug=slug,
                    title_nl="",
                    title_en="",
                    body_nl="",
                    body_en="",
                    created_at=now,
                )
                write_item(copy, item.draft, now, by)
                session.add(copy)
                await session.flush()
                session.add(
                    PracticeCopyRow(
                        practice_item_id=item_id, organisation_id=organisation_id, console_item_id=copy.id
                    )
                )
                have[organisation_id] = copy.id
            return have

    async def origins(self, organisation_id: UUID) -> dict[UUID, UUID]:
        """The organisation's own items that come from the practice library: own item id → practice item id."""
        async with self._sessions() as session:
            rows = (
                await session.exec(
                    select(PracticeCopyRow).where(col(PracticeCopyRow.organisation_id) == organisation_id)
                )
            ).all()
        return {r.console_item_id: r.practice_item_id for r in rows}


class SqlConduct:
    """Each organisation's code of conduct."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, organisation_id: UUID) -> Conduct | None:
        async with self._sessions() as session:
            row = await session.get(OrganisationConductRow, organisation_id)
        if row is None or not (row.url or row.document_name):
            return None
        return Conduct(row.url, row.document_name, row.token)

    async def _row(self, session: AsyncSession, organisation_id: UUID) -> OrganisationConductRow:
        row = await session.get(OrganisationConductRow, organisation_id)
        if row is None:
            row = OrganisationConductRow(organisation_id=organisation_id, token=secrets.token_urlsafe(24))
        return row

    async def set_url(self, organisation_id: UUID, url: str, now: datetime) -> None:
        async with transaction(self._sessions) as session:
            row = await self._row(session, organisation_id)
            row.url, row.document, row.document_name, row.updated_at = url, None, "", now
            session.add(row)

    async def set_document(self, organisation_id: UUID, data: bytes, name: str, now: datetime) -> None:
        async with transaction(self._sessions) as session:
            row = await self._row(session, organisation_id)
            row.url, row.document, row.document_name, row.updated_at = "", data, name[:200] or "code.pdf", now
            session.add(row)

    async def clear(self, organisation_id: UUID) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                delete(OrganisationConductRow).where(
                    col(OrganisationConductRow.organisation_id) == organisation_id
                )
            )

    async def document(self, token: str) -> tuple[bytes, str] | None:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(OrganisationConductRow).where(col(OrganisationConductRow.token) == token)
                )
            ).first()
        if row is None or row.document is None:
            return None
        return row.document, row.document_name

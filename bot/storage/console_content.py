"""Content written in the console (an organisation's own columns and reminders) and report notes.

API note: an own item's id, as used by schedules and posts, is ``own:<uuid>``; `SqlConsoleContent.column(...)` /
`.reminder(...)` turn it into the same `Column` / `Reminder` values the content library gives, so renderers and
the outreach pipeline treat both alike. Every method takes the organisation id and filters on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TypedDict
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.content import Column, Reminder, Text
from bot.errors import ConflictError, NotFoundError
from bot.storage.db import transaction
from bot.storage.tables_console import ConsoleItemRow, ConsoleReportNoteRow, aware
from bot.storage.tables_library import PracticeItemRow

OWN_PREFIX = "own:"
KINDS = ("column", "reminder")


@dataclass(frozen=True, slots=True)
class OwnItem:
    id: UUID
    organisation_id: UUID
    kind: str
    slug: str
    theme: str
    reading_minutes: int
    title: Text
    summary: Text
    body: Text
    updated_at: datetime

    @property
    def item_id(self) -> str:
        return f"{OWN_PREFIX}{self.id}"

    def as_column(self) -> Column:
        return Column(
            id=self.item_id,
            theme=self.theme or "own",
            reading_minutes=self.reading_minutes,
            title=self.title,
            summary=self.summary,
            body=self.body,
        )

    def as_reminder(self) -> Reminder:
        return Reminder(id=self.item_id, topic=self.theme or "own", title=self.title, body=self.body)


@dataclass(frozen=True, slots=True)
class ItemDraft:
    kind: str
    slug: str
    theme: str
    reading_minutes: int
    title: Text
    summary: Text
    body: Text


@dataclass(frozen=True, slots=True)
class ReportNote:
    organisation_id: UUID
    period_start: date
    period_end: date
    signals: str
    advice: str


#: A row of an item written in the console: an organisation's own, or the practice library's.
ItemRow = ConsoleItemRow | PracticeItemRow


class ItemFields(TypedDict):
    """What an item says, as its row stores it (one column per language): the fields of `ItemDraft`."""

    kind: str
    slug: str
    theme: str
    reading_minutes: int
    title: Text
    summary: Text
    body: Text


def item_fields(row: ItemRow) -> ItemFields:
    """The row's texts as `Text` values: read the same way for own items and practice items."""
    return ItemFields(
        kind=row.kind,
        slug=row.slug,
        theme=row.theme,
        reading_minutes=row.reading_minutes,
        title=Text(row.title_nl, row.title_en),
        summary=Text(row.summary_nl, row.summary_en),
        body=Text(row.body_nl, row.body_en),
    )


def write_item(row: ItemRow, draft: ItemDraft, now: datetime, by: UUID | None) -> None:
    """The draft's texts into the row (not its short name: a copy may carry another), stamped by whom and when."""
    row.theme = draft.theme
    row.reading_minutes = draft.reading_minutes
    row.title_nl, row.title_en = draft.title.nl, draft.title.en
    row.summary_nl, row.summary_en = draft.summary.nl, draft.summary.en
    row.body_nl, row.body_en = draft.body.nl, draft.body.en
    row.updated_at = now
    row.updated_by = by


def _item(row: ConsoleItemRow) -> OwnItem:
    return OwnItem(
        id=row.id, organisation_id=row.organisation_id, updated_at=aware(row.updated_at), **item_fields(row)
    )


def parse_own_id(item_id: str) -> UUID | None:
    if not item_id.startswith(OWN_PREFIX):
        return None
    try:
        return UUID(item_id[len(OWN_PREFIX) :])
    except ValueError:
        return None


class SqlConsoleContent:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def items(self, organisation_id: UUID, kind: str | None = None) -> list[OwnItem]:
        query = select(ConsoleItemRow).where(col(ConsoleItemRow.organisation_id) == organisation_id)
        if kind is not None:
            query = query.where(col(ConsoleItemRow.kind) == kind)
        async with self._sessions() as session:
            rows = (await session.exec(query.order_by(col(ConsoleItemRow.updated_at).desc()))).all()
        return [_item(r) for r in rows]

    async def get(self, organisation_id: UUID, item_uuid: UUID) -> OwnItem | None:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(ConsoleItemRow)
                    .where(col(ConsoleItemRow.organisation_id) == organisation_id)
                    .where(col(ConsoleItemRow.id) == item_uuid)
                )
            ).first()
        return None if row is None else _item(row)

    async def column(self, organisation_id: UUID, item_id: str) -> Column | None:
        uuid = parse_own_id(item_id)
        item = None if uuid is None else await self.get(organisation_id, uuid)
        return item.as_column() if item is not None and item.kind == "column" else None

    async def reminder(self, organisation_id: UUID, item_id: str) -> Reminder | None:
        uuid = parse_own_id(item_id)
        item = None if uuid is None else await self.get(organisation_id, uuid)
        return item.as_reminder() if item is not None and item.kind == "reminder" else None

    async def save(
        self,
        organisation_id: UUID,
        draft: ItemDraft,
        now: datetime,
        by: UUID | None,
        item_uuid: UUID | None = None,
    ) -> OwnItem:
        if draft.kind not in KINDS:
            raise ValueError("unknown kind")
        async with transaction(self._sessions) as session:
            clash = (
                await session.exec(
                    select(ConsoleItemRow.id)
                    .where(col(ConsoleItemRow.organisation_id) == organisation_id)
                    .where(col(ConsoleItemRow.kind) == draft.kind)
                    .where(col(ConsoleItemRow.slug) == draft.slug)
                )
            ).first()
            if clash is not None and clash != item_uuid:
                raise ConflictError("an item with this short name exists already")
            if item_uuid is None:
                row = ConsoleItemRow(
                    organisation_id=organisation_id,
                    kind=draft.kind,
                    created_at=now,
                    slug=draft.slug,
                    title_nl="",
                    title_en="",
                    body_nl="",
                    body_en="",
                )
            else:
                found = (
                    await session.exec(
                        select(ConsoleItemRow)
                        .where(col(ConsoleItemRow.organisation_id) == organisation_id)
                        .where(col(ConsoleItemRow.id) == item_uuid)
                    )
                ).first()
                if found is None:
                    raise NotFoundError("no such item")
                row = found
            row.slug = draft.slug
            write_item(row, draft, now, by)
            session.add(row)
            await session.flush()
            return _item(row)

    async def remove(self, organisation_id: UUID, item_uuid: UUID) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                delete(ConsoleItemRow)
                .where(col(ConsoleItemRow.organisation_id) == organisation_id)
                .where(col(ConsoleItemRow.id) == item_uuid)
            )

    # report notes -----------------------------------------------------------------------------------------

    async def report_note(self, organisation_id: UUID, start: date, end: date) -> ReportNote:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(ConsoleReportNoteRow)
                    .where(col(ConsoleReportNoteRow.organisation_id) == organisation_id)
                    .where(col(ConsoleReportNoteRow.period_start) == start)
                    .where(col(ConsoleReportNoteRow.period_end) == end)
                )
            ).first()
        if row is None:
            return ReportNote(organisation_id, start, end, "", "")
        return ReportNote(organisation_id, start, end, row.signals, row.advice)

    async def save_report_note(self, note: ReportNote, now: datetime) -> None:
        async with transaction(self._sessions) as session:
            row = (
                await session.exec(
                    select(ConsoleReportNoteRow)
                    .where(col(ConsoleReportNoteRow.organisation_id) == note.organisation_id)
                    .where(col(ConsoleReportNoteRow.period_start) == note.period_start)
                    .where(col(ConsoleReportNoteRow.period_end) == note.period_end)
                )
            ).first()
            if row is None:
                row = ConsoleReportNoteRow(
                    organisation_id=note.organisation_id,
                    period_start=note.period_start,
                    period_end=note.period_end,
                )
            row.signals, row.advice = note.signals, note.advice
            row.updated_at = now.replace(tzinfo=None)
            session.add(row)

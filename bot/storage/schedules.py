"""Schedules, organisation calendars and the member directory, in SQL. Every query filters on the organisation."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.delivery import Target, TargetKind
from bot.domain.outreach import Audience, Member, Schedule, What
from bot.domain.recurrence import OutreachCalendar, WhenBlocked, parse_clock, parse_holidays, parse_recurrence
from bot.domain.tenancy import Organisation, Platform
from bot.errors import ConflictError, NotFoundError
from bot.storage.db import transaction
from bot.storage.tables_outreach import OutreachCalendarRow, OutreachMemberRow, OutreachScheduleRow


def schedule_from_row(row: OutreachScheduleRow, organisation: Organisation) -> Schedule:
    return Schedule(
        id=row.id,
        organisation_id=row.organisation_id,
        name=row.name,
        what=What(row.what),
        item_id=row.item_id,
        audience=Audience.from_json(row.audience),
        recurrence=parse_recurrence(row.recurrence),
        anchor=date.fromisoformat(row.anchor),
        timezone=row.timezone or organisation.timezone,
        locale=row.locale or organisation.locale,
        when_blocked=WhenBlocked(row.when_blocked),
        grace_minutes=row.grace_minutes,
        enabled=row.enabled,
        cursor_at=row.cursor_at,
        created_at=row.created_at,
    )


class SqlScheduleRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(
        self,
        organisation: Organisation,
        *,
        name: str,
        what: What,
        item_id: str | None,
        audience: Audience,
        recurrence: str,
        anchor: date,
        timezone: str | None,
        locale: str | None,
        when_blocked: WhenBlocked,
        grace_minutes: int,
        now: datetime,
    ) -> Schedule:
        parse_recurrence(recurrence)
        row = OutreachScheduleRow(
            organisation_id=organisation.id,
            name=name,
            what=what.value,
            item_id=item_id,
            audience=audience.to_json(),
            recurrence=recurrence,
            anchor=anchor.isoformat(),
            timezone=timezone,
            locale=locale,
            when_blocked=when_blocked.value,
            grace_minutes=grace_minutes,
            cursor_at=now,
            created_at=now,
            updated_at=now,
        )
        try:
            async with transaction(self._sessions) as session:
                session.add(row)
        except IntegrityError as exc:
            raise ConflictError(f"a schedule named '{name}' exists already in {organisation.slug}") from exc
        return schedule_from_row(row, organisation)

    async def update(
        self,
        organisation: Organisation,
        schedule: Schedule,
        *,
        recurrence_text: str,
        timezone: str | None,
        moved: bool,
        now: datetime,
    ) -> Schedule:
        """Write an edited schedule over its row (same id: its occurrences and rotation stay with it).

        `timezone` None keeps the row's own (the organisation's, unless one was set). When the rule or zone
        `moved`, the cursor goes to now: nothing that fell due under the old rule is sent afterwards."""
        parse_recurrence(recurrence_text)
        values: dict[str, object] = {
            "name": schedule.name,
            "item_id": schedule.item_id,
            "audience": schedule.audience.to_json(),
            "recurrence": recurrence_text,
            "anchor": schedule.anchor.isoformat(),
            "when_blocked": schedule.when_blocked.value,
            "grace_minutes": schedule.grace_minutes,
            "updated_at": now,
        }
        if timezone is not None:
            values["timezone"] = timezone
        if moved:
            values["cursor_at"] = now
        try:
            async with transaction(self._sessions) as session:
                result = await session.exec(
                    update(OutreachScheduleRow)
                    .where(
                        col(OutreachScheduleRow.organisation_id) == organisation.id,
                        col(OutreachScheduleRow.id) == schedule.id,
                    )
                    .values(**values)
                )
                if result.rowcount == 0:
                    raise NotFoundError(f"no schedule '{schedule.name}' in {organisation.slug}")
        except IntegrityError as exc:
            raise ConflictError(
                f"a schedule named '{schedule.name}' exists already in {organisation.slug}"
            ) from exc
        return await self.get(organisation, schedule.name)

    async def list_schedules(self, organisation: Organisation) -> list[Schedule]:
        async with self._sessions() as session:
            rows = await session.exec(
                select(OutreachScheduleRow)
                .where(col(OutreachScheduleRow.organisation_id) == organisation.id)
                .order_by(col(OutreachScheduleRow.name))
            )
            return [schedule_from_row(r, organisation) for r in rows]

    async def get(self, organisation: Organisation, name: str) -> Schedule:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(OutreachScheduleRow).where(
                        col(OutreachScheduleRow.organisation_id) == organisation.id,
                        col(OutreachScheduleRow.name) == name,
                    )
                )
            ).first()
        if row is None:
            raise NotFoundError(f"no schedule '{name}' in {organisation.slug}")
        return schedule_from_row(row, organisation)

    async def remove(self, organisation: Organisation, name: str) -> None:
        async with transaction(self._sessions) as session:
            result = await session.exec(
                delete(OutreachScheduleRow).where(
                    col(OutreachScheduleRow.organisation_id) == organisation.id,
                    col(OutreachScheduleRow.name) == name,
                )
            )
            if result.rowcount == 0:
                raise NotFoundError(f"no schedule '{name}' in {organisation.slug}")

    async def advance_cursor(self, organisation_id: UUID, schedule_id: UUID, cursor: datetime) -> None:
        """Move the schedule's cursor forward (never back: replicas may race)."""
        async with transaction(self._sessions) as session:
            await session.exec(
                update(OutreachScheduleRow)
                .where(
                    col(OutreachScheduleRow.organisation_id) == organisation_id,
                    col(OutreachScheduleRow.id) == schedule_id,
                    (col(OutreachScheduleRow.cursor_at).is_(None))
                    | (col(OutreachScheduleRow.cursor_at) < cursor),
                )
                .values(cursor_at=cursor)
            )

    async def all_enabled(self) -> list[tuple[OutreachScheduleRow, str, str]]:
        """Every enabled schedule with its organisation's time zone and locale (for the scheduler)."""
        from bot.storage.tables import OrganisationRow

        async with self._sessions() as session:
            rows = await session.exec(
                select(OutreachScheduleRow, OrganisationRow)
                .join(OrganisationRow, col(OrganisationRow.id) == col(OutreachScheduleRow.organisation_id))
                .where(col(OutreachScheduleRow.enabled).is_(True))
            )
            return [(s, o.timezone, o.locale) for s, o in rows]

    # --- the organisation's calendar -------------------------------------------------------------------

    async def calendar(self, organisation_id: UUID) -> OutreachCalendar:
        """Quiet hours, weekends, the organisation's own days off and its country's public holidays."""
        from bot.storage.planning import SqlPlanningSettings, public_holidays

        async with self._sessions() as session:
            row = await session.get(OutreachCalendarRow, organisation_id)
        country = await SqlPlanningSettings(self._sessions).country(organisation_id)
        base = (
            OutreachCalendar()
            if row is None
            else OutreachCalendar(
                quiet_start=parse_clock(row.quiet_start),
                quiet_end=parse_clock(row.quiet_end),
                skip_weekends=row.skip_weekends,
                holidays=parse_holidays(row.holidays),
            )
        )
        return replace(base, country=country, public_holidays=public_holidays(country))

    async def set_calendar(self, organisation_id: UUID, calendar: OutreachCalendar) -> None:
        from bot.storage.planning import SqlPlanningSettings

        await SqlPlanningSettings(self._sessions).set_country(organisation_id, calendar.country)
        async with transaction(self._sessions) as session:
            row = await session.get(OutreachCalendarRow, organisation_id)
            if row is None:
                row = OutreachCalendarRow(organisation_id=organisation_id)
            row.quiet_start = calendar.quiet_start.strftime("%H:%M")
            row.quiet_end = calendar.quiet_end.strftime("%H:%M")
            row.skip_weekends = calendar.skip_weekends
            row.holidays = calendar.to_json()
            session.add(row)


class SqlMemberDirectory:
    """Who the bot may DM per organisation. Adapters register people when they meet them (install, Home tab,
    personal chat) and the outbox deactivates people the platform reports gone."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def register(self, organisation_id: UUID, target: Target, locale: str | None = None) -> None:
        async with transaction(self._sessions) as session:
            row = (
                await session.exec(
                    select(OutreachMemberRow).where(
                        col(OutreachMemberRow.platform) == target.platform.value,
                        col(OutreachMemberRow.workspace_id) == target.workspace_id,
                        col(OutreachMemberRow.address) == target.address,
                    )
                )
            ).first()
            if row is not None and row.organisation_id != organisation_id:
                raise ConflictError("this platform user belongs to another organisation")
            if row is None:
                row = OutreachMemberRow(
                    organisation_id=organisation_id,
                    platform=target.platform.value,
                    workspace_id=target.workspace_id,
                    address=target.address,
                )
            row.locale = locale or row.locale
            row.active = True
            session.add(row)

    async def deactivate(self, organisation_id: UUID, target: Target) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                update(OutreachMemberRow)
                .where(
                    col(OutreachMemberRow.organisation_id) == organisation_id,
                    col(OutreachMemberRow.platform) == target.platform.value,
                    col(OutreachMemberRow.workspace_id) == target.workspace_id,
                    col(OutreachMemberRow.address) == target.address,
                )
                .values(active=False)
            )

    async def members(self, organisation_id: UUID) -> list[Member]:
        async with self._sessions() as session:
            rows = await session.exec(
                select(OutreachMemberRow).where(
                    col(OutreachMemberRow.organisation_id) == organisation_id,
                    col(OutreachMemberRow.active).is_(True),
                )
            )
            return [
                Member(Target(Platform(r.platform), r.workspace_id, TargetKind.PERSON, r.address), r.locale)
                for r in rows
            ]

    async def count(self, organisation_id: UUID) -> int:
        async with self._sessions() as session:
            result = await session.exec(
                select(func.count())
                .select_from(OutreachMemberRow)
                .where(
                    col(OutreachMemberRow.organisation_id) == organisation_id,
                    col(OutreachMemberRow.active).is_(True),
                )
            )
            return int(result.one())

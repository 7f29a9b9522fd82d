"""The SQL side of the practice's own settings: organisation settings, its own sociale kaart, management
viewers, the counsellor's profile and photo, and erasing an organisation."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from uuid import UUID

from sqlalchemy import delete, func, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.content import SocialMapEntry, Text
from bot.domain.practice import CounsellorProfile, ManagementChannel, ManagementViewer, OrganisationSettings
from bot.errors import NotFoundError
from bot.storage.db import erase_wal, transaction
from bot.storage.tables import (
    ChannelBindingRow,
    CounsellorRow,
    GroupRow,
    ManagementViewerRow,
    OrganisationCounsellorRow,
    OrganisationRow,
    PlatformConnectionRow,
)
from bot.storage.tables_console import ConsoleAccountRow
from bot.storage.tables_conversations import (
    ConversationClassificationRow,
    ConversationRow,
    CounsellorVaultRow,
)
from bot.storage.tables_members import RateBudgetRow
from bot.storage.tables_outreach import OutreachScheduleRow, TeamSessionRow
from bot.storage.tables_practice import CounsellorPhotoRow, OrganisationSocialEntryRow
from bot.storage.tables_pulses import ManagementChannelRow, PulseRow
from bot.storage.tables_slack import SlackInstallationRow


def social_entry(row: OrganisationSocialEntryRow) -> SocialMapEntry:
    return SocialMapEntry(
        id=row.entry_id,
        kind=row.kind,
        name=Text(row.name_nl, row.name_en or row.name_nl),
        description=Text(row.description_nl, row.description_en or row.description_nl),
        phone=row.phone or None,
        url=row.url or None,
        hours=Text(row.hours_nl, row.hours_en or row.hours_nl) if row.hours_nl else None,
    )


async def _social_entries(session: AsyncSession, organisation_id: UUID) -> tuple[SocialMapEntry, ...]:
    rows = await session.exec(
        select(OrganisationSocialEntryRow)
        .where(col(OrganisationSocialEntryRow.organisation_id) == organisation_id)
        .order_by(col(OrganisationSocialEntryRow.name_nl))
    )
    return tuple(social_entry(r) for r in rows)


async def _viewers(session: AsyncSession, organisation_id: UUID) -> list[ManagementViewer]:
    rows = await session.exec(
        select(ManagementViewerRow)
        .where(col(ManagementViewerRow.organisation_id) == organisation_id)
        .order_by(col(ManagementViewerRow.display_name))
    )
    return [ManagementViewer(r.id, r.display_name, r.email, r.platform, r.platform_user_id) for r in rows]


async def _management_channels(session: AsyncSession, organisation_id: UUID) -> list[ManagementChannel]:
    rows = await session.exec(
        select(ManagementChannelRow)
        .where(col(ManagementChannelRow.organisation_id) == organisation_id)
        .order_by(col(ManagementChannelRow.platform))
    )
    return [ManagementChannel(r.platform, r.workspace_id, r.channel_id) for r in rows]


class SqlPracticeStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # -- organisation settings ----------------------------------------------------------------------------
    async def update_organisation(self, organisation_id: UUID, settings: OrganisationSettings) -> None:
        async with transaction(self._sessions) as session:
            result = await session.exec(
                update(OrganisationRow)
                .where(col(OrganisationRow.id) == organisation_id)
                .values(
                    name=settings.name.strip(),
                    locale=settings.locale,
                    timezone=settings.timezone,
                    retention_days=settings.retention_days,
                )
            )
            if not result.rowcount:
                raise NotFoundError("no such organisation")
            # The retention applies to the conversations there are, too: each expires that many days after its
            # own last activity (days only, as stored; a few rows per organisation, so computed here).
            keep = timedelta(days=settings.retention_days)
            for conversation_id, last_activity in (
                await session.exec(
                    select(col(ConversationRow.id), col(ConversationRow.last_activity_on)).where(
                        col(ConversationRow.organisation_id) == organisation_id
                    )
                )
            ).all():
                await session.exec(
                    update(ConversationRow)
                    .where(col(ConversationRow.id) == conversation_id)
                    .values(expires_on=last_activity + keep)
                )

    async def own_settings(
        self, organisation_id: UUID
    ) -> tuple[tuple[SocialMapEntry, ...], list[ManagementChannel], list[ManagementViewer]]:
        """The settings page's rows in one session: own sociale kaart entries, management channels, viewers."""
        async with self._sessions() as session:
            return (
                await _social_entries(session, organisation_id),
                await _management_channels(session, organisation_id),
                await _viewers(session, organisation_id),
            )

    # -- the organisation's own sociale kaart ---------------------------------------------------------
    async def social_entries(self, organisation_id: UUID) -> tuple[SocialMapEntry, ...]:
        async with self._sessions() as session:
            return await _social_entries(session, organisation_id)

    async def save_social_entry(self, organisation_id: UUID, entry: SocialMapEntry) -> None:
        """Adds the entry, or replaces the organisation's entry with the same id."""
        async with transaction(self._sessions) as session:
            row = (
                await session.exec(
                    select(OrganisationSocialEntryRow).where(
                        col(OrganisationSocialEntryRow.organisation_id) == organisation_id,
                        col(OrganisationSocialEntryRow.entry_id) == entry.id,
                    )
                )
            ).first()
            if row is None:
                row = OrganisationSocialEntryRow(
                    organisation_id=organisation_id, entry_id=entry.id, name_nl="", name_en=""
                )
            row.kind = entry.kind
            row.name_nl, row.name_en = entry.name.nl, entry.name.en
            row.description_nl, row.description_en = entry.description.nl, entry.description.en
            row.phone, row.url = entry.phone, entry.url
            row.hours_nl = entry.hours.nl if entry.hours else None
            row.hours_en = entry.hours.en if entry.hours else None
            session.add(row)

    async def remove_social_entry(self, organisation_id: UUID, entry_id: str) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                delete(OrganisationSocialEntryRow).where(
                    col(OrganisationSocialEntryRow.organisation_id) == organisation_id,
                    col(OrganisationSocialEntryRow.entry_id) == entry_id,
                )
            )

    # -- management viewers and channels ------------------------------------------------------------
    async def viewers(self, organisation_id: UUID) -> list[ManagementViewer]:
        async with self._sessions() as session:
            return await _viewers(session, organisation_id)

    async def add_viewer(
        self,
        organisation_id: UUID,
        display_name: str,
        email: str | None,
        platform: str | None,
        platform_user_id: str | None,
    ) -> UUID:
        async with transaction(self._sessions) as session:
            row = ManagementViewerRow(
                id=uuid.uuid4(),
                organisation_id=organisation_id,
                display_name=display_name,
                email=email,
                platform=platform if platform_user_id else None,
                platform_user_id=platform_user_id if platform else None,
            )
            session.add(row)
            return row.id

    async def remove_viewer(self, organisation_id: UUID, viewer_id: UUID) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                delete(ManagementViewerRow).where(
                    col(ManagementViewerRow.organisation_id) == organisation_id,
                    col(ManagementViewerRow.id) == viewer_id,
                )
            )

    async def management_channels(self, organisation_id: UUID) -> list[ManagementChannel]:
        async with self._sessions() as session:
            return await _management_channels(session, organisation_id)

    async def remove_management_channel(self, organisation_id: UUID, platform: str) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                delete(ManagementChannelRow).where(
                    col(ManagementChannelRow.organisation_id) == organisation_id,
                    col(ManagementChannelRow.platform) == platform,
                )
            )

    # -- the counsellor's profile -------------------------------------------------------------------
    async def profile(self, counsellor_id: UUID) -> CounsellorProfile:
        async with self._sessions() as session:
            row = await session.get(CounsellorRow, counsellor_id)
            if row is None:
                raise NotFoundError("no such counsellor")
            has_key = await session.get(CounsellorVaultRow, counsellor_id) is not None
            return CounsellorProfile(
                row.id,
                row.display_name,
                row.email,
                row.photo_url,
                row.intro_nl or "",
                row.intro_en or "",
                has_key,
            )

    async def set_introduction(self, counsellor_id: UUID, intro_nl: str, intro_en: str) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                update(CounsellorRow)
                .where(col(CounsellorRow.id) == counsellor_id)
                .values(intro_nl=intro_nl or None, intro_en=intro_en or None)
            )

    async def save_photo(
        self, counsellor_id: UUID, token: str, content_type: str, image: bytes, photo_url: str
    ) -> None:
        """The new photo replaces the old one (and its address) in one transaction."""
        async with transaction(self._sessions) as session:
            await session.exec(
                delete(CounsellorPhotoRow).where(col(CounsellorPhotoRow.counsellor_id) == counsellor_id)
            )
            session.add(
                CounsellorPhotoRow(
                    counsellor_id=counsellor_id, token=token, content_type=content_type, image=image
                )
            )
            await session.exec(
                update(CounsellorRow)
                .where(col(CounsellorRow.id) == counsellor_id)
                .values(photo_url=photo_url)
            )

    async def remove_photo(self, counsellor_id: UUID) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                delete(CounsellorPhotoRow).where(col(CounsellorPhotoRow.counsellor_id) == counsellor_id)
            )
            await session.exec(
                update(CounsellorRow).where(col(CounsellorRow.id) == counsellor_id).values(photo_url=None)
            )

    async def photo(self, token: str) -> tuple[bytes, str] | None:
        async with self._sessions() as session:
            row = (
                await session.exec(select(CounsellorPhotoRow).where(col(CounsellorPhotoRow.token) == token))
            ).first()
            return None if row is None else (row.image, row.content_type)

    # -- offboarding ----------------------------------------------------------------------------------
    async def offboarding_summary(self, organisation_id: UUID) -> dict[str, int]:
        """How many of each kind of thing erasing the organisation removes, for the confirmation page."""
        counted = {
            "conversations": ConversationRow,
            "classifications": ConversationClassificationRow,
            "groups": GroupRow,
            "bindings": ChannelBindingRow,
            "connections": PlatformConnectionRow,
            "schedules": OutreachScheduleRow,
            "sessions": TeamSessionRow,
            "pulses": PulseRow,
            "viewers": ManagementViewerRow,
            "viewer_accounts": ConsoleAccountRow,
            "social_entries": OrganisationSocialEntryRow,
            "counsellors": OrganisationCounsellorRow,
        }
        found: dict[str, int] = {}
        async with self._sessions() as session:
            for name, table in counted.items():
                column = table.organisation_id  # type: ignore[attr-defined]
                found[name] = int(
                    (
                        await session.exec(
                            select(func.count()).select_from(table).where(column == organisation_id)
                        )
                    ).one()
                )
        return found

    async def created_on(self, organisation_id: UUID) -> date:
        async with self._sessions() as session:
            row = await session.get(OrganisationRow, organisation_id)
            if row is None:
                raise NotFoundError("no such organisation")
            return row.created_at.date()

    async def erase_organisation(self, organisation_id: UUID) -> None:
        """The organisation and everything of it: every row that carries its id goes with it (foreign keys with
        ON DELETE CASCADE: groups, bindings, tokens, conversations and their keys, pulses and their keys,
        outreach, sessions, viewers, accounts of its management viewers, its own sociale kaart). Rows keyed by
        one of its workspaces rather than by the organisation (send budgets) are removed here by hand."""
        async with transaction(self._sessions) as session:
            if await session.get(OrganisationRow, organisation_id) is None:
                raise NotFoundError("no such organisation")
            workspaces = set(
                (
                    await session.exec(
                        select(PlatformConnectionRow.workspace_id).where(
                            col(PlatformConnectionRow.organisation_id) == organisation_id
                        )
                    )
                ).all()
            )
            for key, team in (
                await session.exec(
                    select(SlackInstallationRow.workspace_key, SlackInstallationRow.team_id).where(
                        col(SlackInstallationRow.organisation_id) == organisation_id
                    )
                )
            ).all():
                workspaces.update(w for w in (key, team) if w)
            if workspaces:
                await session.exec(
                    delete(RateBudgetRow).where(col(RateBudgetRow.workspace_id).in_(workspaces))
                )
            await session.exec(delete(OrganisationRow).where(col(OrganisationRow.id) == organisation_id))
        await erase_wal(self._sessions)

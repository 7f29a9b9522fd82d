"""Assembling HomeInfo from the database, the content library and the session calendar.

The sociale kaart is the content library's template with the organisation's own entries merged over it.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.clock import Clock
from bot.domain.content import Catalog, Text
from bot.domain.delivery import portal_link
from bot.domain.home import CounsellorCard, HomeInfo, SessionCalendar
from bot.domain.practice import merge_social_map
from bot.domain.tenancy import CounsellorRole, Organisation
from bot.storage.practice import social_entry
from bot.storage.tables import CounsellorRow, OrganisationCounsellorRow
from bot.storage.tables_practice import OrganisationSocialEntryRow


class HomeInfoSource:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        calendar: SessionCalendar,
        clock: Clock,
        portal_base_url: str,
        public_base_url: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._calendar = calendar
        self._clock = clock
        self._portal_base_url = portal_base_url
        self._public_base_url = public_base_url

    async def for_organisation(self, organisation: Organisation) -> HomeInfo:
        async with self._sessions() as session:
            rows = await session.exec(
                select(CounsellorRow, OrganisationCounsellorRow)
                .join(
                    OrganisationCounsellorRow,
                    col(OrganisationCounsellorRow.counsellor_id) == col(CounsellorRow.id),
                )
                .where(col(OrganisationCounsellorRow.organisation_id) == organisation.id)
                .order_by(col(OrganisationCounsellorRow.role).desc(), col(CounsellorRow.display_name))
            )
            counsellors = tuple(
                CounsellorCard(
                    name=c.display_name,
                    role=CounsellorRole(link.role),
                    intro=Text(c.intro_nl, c.intro_en or c.intro_nl) if c.intro_nl else None,
                    photo_url=c.photo_url,
                    email=c.email,
                )
                for c, link in rows
            )
            own = await session.exec(
                select(OrganisationSocialEntryRow).where(
                    col(OrganisationSocialEntryRow.organisation_id) == organisation.id
                )
            )
            social_map = merge_social_map(
                self._catalog.social_map,
                tuple(sorted((social_entry(r) for r in own), key=lambda e: e.name.nl.lower())),
            )
        upcoming = await self._calendar.upcoming(organisation.id, self._clock.now(), 5)
        from bot.storage.library import SqlConduct  # the library feature's table (kept apart in the imports)

        conduct = await SqlConduct(self._sessions).get(organisation.id)
        base = self._public_base_url or self._portal_base_url
        return HomeInfo(
            organisation=organisation,
            counsellors=counsellors,
            social_map=social_map,
            sessions=tuple(upcoming),
            portal_url=portal_link(self._portal_base_url, organisation.slug),
            conduct_url=conduct.link(base) if conduct is not None else None,
        )

"""The organisation's country for public holidays, and those holidays from the maintained `holidays` package."""

from __future__ import annotations

import functools
from datetime import date
from uuid import UUID

import holidays as holiday_calendars
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.storage.db import transaction
from bot.storage.tables import OrganisationRow
from bot.storage.tables_planning import PlanningCalendarRow

#: The country an organisation's time zone suggests, until the counsellor picks one in the console.
COUNTRY_OF_ZONE = {
    "Europe/Amsterdam": "NL",
    "Europe/Brussels": "BE",
    "Europe/Luxembourg": "LU",
    "Europe/Berlin": "DE",
    "Europe/Paris": "FR",
    "Europe/London": "GB",
    "Europe/Dublin": "IE",
}
#: Years computed once per country (a few hundred dates): enough for any plan the scheduler makes.
YEARS = range(2000, 2071)


def supported_countries() -> tuple[str, ...]:
    return tuple(sorted(holiday_calendars.list_supported_countries()))


@functools.lru_cache(maxsize=32)
def public_holidays(country: str) -> frozenset[date]:
    """The public holidays of a country (ISO 3166 code) as the `holidays` package knows them; none for ""."""
    if not country or country not in holiday_calendars.list_supported_countries():
        return frozenset()
    return frozenset(holiday_calendars.country_holidays(country, years=YEARS).keys())


class SqlPlanningSettings:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def country(self, organisation_id: UUID) -> str:
        async with self._sessions() as session:
            row = await session.get(PlanningCalendarRow, organisation_id)
            if row is not None:
                return row.country
            organisation = await session.get(OrganisationRow, organisation_id)
        return COUNTRY_OF_ZONE.get(organisation.timezone, "") if organisation is not None else ""

    async def set_country(self, organisation_id: UUID, country: str) -> None:
        async with transaction(self._sessions) as session:
            row = await session.get(PlanningCalendarRow, organisation_id)
            if row is None:
                row = PlanningCalendarRow(organisation_id=organisation_id)
            row.country = country
            session.add(row)

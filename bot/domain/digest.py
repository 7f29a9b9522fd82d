"""The monthly digest: the columns an organisation was sent last month, in one post.

A schedule (or "publish now") with `What.DIGEST` builds a `ColumnDigestPost` when it fires: the columns whose
posts reached at least one channel or person in the previous calendar month (the organisation's time zone),
oldest first. Nothing is sent when there were none. It carries titles and summaries only, plus the door.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from bot.domain.content import Catalog, Column
from bot.domain.delivery import Post, portal_link
from bot.domain.outreach import Occurrence
from bot.domain.tenancy import Organisation

#: A digest lists at most this many columns (a Slack message holds 50 blocks; a card should stay readable).
DIGEST_MAX_COLUMNS = 20


@dataclass(frozen=True, slots=True)
class ColumnDigestPost(Post):
    month: date  # the first day of the month it covers
    columns: tuple[Column, ...]
    portal_url: str
    kind: str = "column_digest"


class SentColumns(Protocol):
    """Port: the columns an organisation's posts delivered between two moments, in the order first sent."""

    async def columns_sent(self, organisation_id: UUID, start: datetime, end: datetime) -> list[str]: ...


class Organisations(Protocol):
    async def get_organisation(self, slug_or_id: str) -> Organisation: ...


def previous_month(moment: datetime, zone: str) -> tuple[date, datetime, datetime]:
    """The calendar month before `moment` in `zone`: its first day, and its start and end as aware datetimes."""
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz).date()
    this_month = local.replace(day=1)
    first = (
        this_month.replace(year=this_month.year - 1, month=12)
        if this_month.month == 1
        else this_month.replace(month=this_month.month - 1)
    )
    return first, datetime.combine(first, time(), tz), datetime.combine(this_month, time(), tz)


class DigestPosts:
    """The PostFactory for `What.DIGEST` (registered with outreach's posts)."""

    def __init__(
        self, sent: SentColumns, catalog: Catalog, organisations: Organisations, portal_base_url: str
    ) -> None:
        self._sent = sent
        self._catalog = catalog
        self._organisations = organisations
        self._portal = portal_base_url

    async def build(self, occurrence: Occurrence) -> ColumnDigestPost | None:
        organisation = await self._organisations.get_organisation(str(occurrence.organisation_id))
        month, start, end = previous_month(occurrence.occurs_at, organisation.timezone)
        ids = await self._sent.columns_sent(organisation.id, start, end)
        columns = tuple(c for c in (self._catalog.column(i) for i in ids) if c is not None)
        if not columns:
            return None  # nothing was sent that month: no digest
        return ColumnDigestPost(
            month=month,
            columns=columns[:DIGEST_MAX_COLUMNS],
            portal_url=portal_link(self._portal, organisation.slug),
        )

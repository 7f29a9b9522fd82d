"""Building the Post of an occurrence: columns and reminders from the content library, team sessions from the
database; other features (pulses) add their own factories for their kinds."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from bot.catalog import ContentLibrary
from bot.domain.delivery import ColumnPost, Post, ReminderPost, portal_link
from bot.domain.outreach import Occurrence, PostFactory, What
from bot.domain.team_sessions import SessionAnnouncementPost, SessionReminderPost, ics_link
from bot.domain.tenancy import Organisation
from bot.storage.organisations import SqlOrganisationRepository
from bot.storage.team_sessions import SqlTeamSessionStore


class OutreachPosts:
    """The PostFactory of the outreach feature."""

    def __init__(
        self,
        content: ContentLibrary,
        organisations: SqlOrganisationRepository,
        team_sessions: SqlTeamSessionStore,
        portal_base_url: str,
        public_base_url: str,
        others: Mapping[What, PostFactory] | None = None,
    ) -> None:
        self._content = content
        self._organisations = organisations
        self._team_sessions = team_sessions
        self._portal = portal_base_url
        self._public = public_base_url
        self._others = dict(others or {})
        self._orgs: dict[UUID, Organisation] = {}

    def register(self, what: What, factory: PostFactory) -> None:
        self._others[what] = factory

    def registered(self, what: What) -> PostFactory | None:
        """The factory another feature registered for `what` (None: this one builds it)."""
        return self._others.get(what)

    async def organisation(self, organisation_id: UUID) -> Organisation:
        if organisation_id not in self._orgs:
            self._orgs[organisation_id] = await self._organisations.get_organisation(str(organisation_id))
        return self._orgs[organisation_id]

    async def build(self, occurrence: Occurrence) -> Post | None:
        catalog = self._content.catalog
        if occurrence.what in self._others:
            return await self._others[occurrence.what].build(occurrence)
        org = await self.organisation(occurrence.organisation_id)
        portal = portal_link(self._portal, org.slug)
        if occurrence.what is What.COLUMN:
            column = catalog.column(occurrence.item_id or "")
            return None if column is None else ColumnPost(column=column, portal_url=portal)
        if occurrence.what is What.REMINDER:
            reminder = catalog.reminder(occurrence.item_id or "")
            return None if reminder is None else ReminderPost(reminder=reminder, portal_url=portal)
        if occurrence.what in {What.SESSION, What.SESSION_REMINDER}:
            session = await self._team_sessions.get(
                occurrence.organisation_id, UUID(occurrence.item_id or "")
            )
            if session is None or session.cancelled:
                return None
            count = await self._team_sessions.count(occurrence.organisation_id, session.id)
            kind = SessionAnnouncementPost if occurrence.what is What.SESSION else SessionReminderPost
            return kind(
                session=session,
                signups=count,
                ics_url=ics_link(self._public, session.id),
                timezone=org.timezone,
            )
        return None

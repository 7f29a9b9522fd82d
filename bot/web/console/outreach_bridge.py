"""The console's link to scheduled outreach: the running Outreach service, and posts for console-made items.

Console-written columns and reminders have item ids ``own:<uuid>``; a session cancellation notice has
``cancelled:<session uuid>``. `ConsoleItemPosts` builds their Posts and hands every other item to the content
library exactly as the outreach feature does, so registering it for COLUMN and REMINDER changes nothing else.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID
from zoneinfo import ZoneInfo

from bot.domain.content import Reminder, Text
from bot.domain.delivery import ColumnPost, Post, ReminderPost, portal_link
from bot.domain.outreach import Audience, AudienceError, Occurrence, What
from bot.domain.tenancy import Organisation
from bot.storage.console_content import SqlConsoleContent
from bot.storage.library import SqlConduct
from bot.wiring import Services

if TYPE_CHECKING:
    from scheduler.service import Outreach

CANCELLED_PREFIX = "cancelled:"


class ConsoleItemPosts:
    """PostFactory for COLUMN and REMINDER occurrences: own items, cancellation notices, then the library."""

    def __init__(self, services: Services, outreach: Outreach) -> None:
        self._services = services
        self._outreach = outreach
        self._content = SqlConsoleContent(services.sessions)

    async def build(self, occurrence: Occurrence) -> Post | None:
        organisation = await self._outreach.posts.organisation(occurrence.organisation_id)
        portal = portal_link(self._services.settings.public_portal_url, organisation.slug)
        item_id = occurrence.item_id or ""
        catalog = self._services.content.catalog
        if occurrence.what is What.COLUMN:
            column = await self._content.column(organisation.id, item_id) or catalog.column(item_id)
            return None if column is None else ColumnPost(column=column, portal_url=portal)
        if item_id.startswith(CANCELLED_PREFIX):
            notice = await self._cancellation(organisation, item_id)
            return None if notice is None else ReminderPost(reminder=notice, portal_url=portal)
        reminder = await self._content.reminder(organisation.id, item_id) or catalog.reminder(item_id)
        if reminder is None:
            return None
        conduct = await SqlConduct(self._services.sessions).get(organisation.id)
        link = conduct.link(self._services.settings.public_base_url) if conduct is not None else None
        return ReminderPost(reminder=reminder, portal_url=portal, conduct_url=link)

    async def _cancellation(self, organisation: Organisation, item_id: str) -> Reminder | None:
        try:
            session_id = UUID(item_id.removeprefix(CANCELLED_PREFIX))
        except ValueError:
            return None
        session = await self._outreach.team_sessions.get(organisation.id, session_id)
        if session is None or not session.cancelled:
            return None
        t = self._services.content.translator.t
        moment = {
            lang: session.starts_at.astimezone(_zone(organisation.timezone)).strftime("%d-%m-%Y %H:%M")
            for lang in ("nl", "en")
        }
        return Reminder(
            id=item_id,
            topic="session",
            title=Text(
                t("nl", "console.sessions.cancel_notice_title", title=session.title),
                t("en", "console.sessions.cancel_notice_title", title=session.title),
            ),
            body=Text(
                t("nl", "console.sessions.cancel_notice_body", title=session.title, moment=moment["nl"]),
                t("en", "console.sessions.cancel_notice_body", title=session.title, moment=moment["en"]),
            ),
        )


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def outreach_of(services: Services) -> Outreach:
    """The service's Outreach (made by the outreach feature, or here when the console runs without it)."""
    from scheduler.service import outreach_of as made

    outreach = made(services)
    if not isinstance(outreach.posts.registered(What.COLUMN), ConsoleItemPosts):
        factory = ConsoleItemPosts(services, outreach)
        outreach.posts.register(What.COLUMN, factory)
        outreach.posts.register(What.REMINDER, factory)
    return outreach


async def publish_occurrence(
    services: Services,
    organisation: Organisation,
    what: What,
    item_id: str,
    audience: Audience,
) -> UUID:
    """Post one item now through the outbox; returns its occurrence (to follow its deliveries)."""
    outreach = outreach_of(services)
    addressees = await outreach.materialiser.addressees(organisation, audience)
    if not addressees:
        raise AudienceError("the audience has no channel or member to post to")
    moment = services.clock.now()
    occurrence, _created = await outreach.outbox.add_occurrence(
        organisation_id=organisation.id,
        schedule_id=None,
        occurs_at=moment,
        send_at=moment,
        what=what,
        item_id=item_id,
        locale=organisation.locale,
    )
    await outreach.outbox.add_deliveries(occurrence, addressees, outreach.materialiser.pace)
    return occurrence.id


async def publish(
    services: Services,
    organisation: Organisation,
    what: What,
    item_id: str,
    audience: Audience,
    send_at: datetime | None = None,
) -> int:
    """Post one item (library, own, or a notice) through the outbox now or at `send_at`; returns deliveries."""
    outreach = outreach_of(services)
    addressees = await outreach.materialiser.addressees(organisation, audience)
    if not addressees:
        raise AudienceError("the audience has no channel or member to post to")
    moment = send_at or services.clock.now()
    occurrence, _created = await outreach.outbox.add_occurrence(
        organisation_id=organisation.id,
        schedule_id=None,
        occurs_at=moment,
        send_at=moment,
        what=what,
        item_id=item_id,
        locale=organisation.locale,
    )
    return await outreach.outbox.add_deliveries(occurrence, addressees)

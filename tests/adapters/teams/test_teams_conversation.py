"""Conversation logic with botbuilder's TestAdapter: commands, card submits, locales, unknown tenants."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ChannelAccount, ConversationAccount
from sqlmodel import select

from bot.adapters.teams import reference_store
from bot.adapters.teams.bot import VipTeamsBot
from bot.adapters.teams.cards import CardKit
from bot.app import Services
from bot.domain.content import Text
from bot.domain.home import HomeInfo, NoSessions, UpcomingSession
from bot.domain.tenancy import Organisation
from bot.storage.home import HomeInfoSource
from tests.adapters.teams.support import (
    BOT_ID,
    OTHER_TENANT,
    PERSONAL_CHAT,
    TENANT,
    USER_ID,
    card_text,
    connect,
)

PORTAL = "http://vipbot.test/portal"


class OneSession:
    def __init__(self) -> None:
        self.asked: list[UUID] = []

    async def upcoming(self, organisation_id: UUID, now: datetime, limit: int) -> list[UpcomingSession]:
        self.asked.append(organisation_id)
        start = now + timedelta(days=3)
        return [
            UpcomingSession(
                id=uuid4(),
                title=Text("Intervisie: grenzen aangeven", "Peer consultation: setting boundaries"),
                starts_at=start,
                ends_at=start + timedelta(hours=1),
                place="Zaal 2",
                online_url="https://meet.example/abc",
                signups=3,
            )
        ]


def teams_adapter(services: Services, tenant: str = TENANT, locale: str = "nl-NL") -> TestAdapter:
    store = reference_store(services)
    kit = CardKit(services.content.translator)

    async def home(organisation: Organisation) -> HomeInfo:
        calendar = services.session_calendar or NoSessions()
        source = HomeInfoSource(services.sessions, services.content.catalog, calendar, services.clock, PORTAL)
        return await source.for_organisation(organisation)

    bot = VipTeamsBot(store, kit, home, PORTAL)
    template = Activity(
        channel_id="msteams",
        service_url="https://smba.trafficmanager.net/emea/",
        from_property=ChannelAccount(id=USER_ID),
        recipient=ChannelAccount(id=BOT_ID),
        conversation=ConversationAccount(id=PERSONAL_CHAT, conversation_type="personal", tenant_id=tenant),
        channel_data={"tenant": {"id": tenant}},
        locale=locale,
    )
    return TestAdapter(bot.on_turn, template)


async def say(adapter: TestAdapter, text: str | None = None, value: dict[str, Any] | None = None) -> str:
    await adapter.receive_activity(Activity(type="message", text=text, value=value))
    reply = adapter.get_next_activity()
    assert reply is not None
    assert adapter.get_next_activity() is None
    (attachment,) = reply.attachments
    return card_text(attachment.content)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("hulp", "Typ een van deze woorden"),
        ("/vp", "Typ een van deze woorden"),
        ("Kaart", "Ook hier kun je terecht"),
        ("/vp kaart", "Ook hier kun je terecht"),
        ("sessies", "Komende sessies"),
        ("gesprek", "Start een vertrouwelijk gesprek"),
    ],
)
async def test_commands_mirror_slack(services: Services, typed: str, expected: str) -> None:
    await connect(services)
    text = await say(teams_adapter(services), typed)
    assert expected in text
    assert "bewaar of lees ik niet" not in text


async def test_free_text_gets_the_door_and_why(services: Services) -> None:
    await connect(services)
    text = await say(teams_adapter(services), "ik wil iets kwijt over mijn team")
    assert "bewaar of lees ik niet" in text
    assert "Start een vertrouwelijk gesprek" in text
    assert "ik wil iets kwijt" not in text


async def test_card_submits_and_sessions_from_the_calendar(services: Services) -> None:
    org = await connect(services)
    calendar = OneSession()
    services.session_calendar = calendar
    text = await say(teams_adapter(services), value={"vipbot": "sessions"})
    assert "Intervisie: grenzen aangeven" in text
    assert "{{DATE(2026-03-05T08:00:00Z, COMPACT)}}" in text
    assert "Zaal 2" in text
    assert calendar.asked == [org.id]


async def test_english_readers_get_english(services: Services) -> None:
    await connect(services)
    adapter = teams_adapter(services, locale="en-US")
    assert "Type one of these words" in await say(adapter, "help")
    assert "Where to go" in await say(adapter, "map")
    assert "I do not keep, read or forward" in await say(adapter, "something personal")


async def test_a_message_stores_the_personal_chat_once(services: Services) -> None:
    org = await connect(services)
    adapter = teams_adapter(services)
    await say(adapter, "hulp")
    await say(adapter, "kaart")
    (stored,) = await reference_store(services).list_references(org.id)
    assert stored.reference.conversation_id == PERSONAL_CHAT
    assert stored.reference.user_id == USER_ID


async def test_unknown_tenant_gets_told_and_nothing_is_stored(services: Services) -> None:
    org = await connect(services)
    text = await say(teams_adapter(services, tenant=OTHER_TENANT), "hulp")
    assert "nog niet gekoppeld" in text
    assert await reference_store(services).list_references(org.id) == []


async def test_tenants_stay_apart(services: Services) -> None:
    first = await connect(services)
    second = await connect(services, tenant=OTHER_TENANT, slug="bouw")
    await say(teams_adapter(services, tenant=OTHER_TENANT), "hulp")
    assert await reference_store(services).list_references(first.id) == []
    assert len(await reference_store(services).list_references(second.id)) == 1


async def test_group_chats_install_and_uninstall_and_targets(services: Services) -> None:
    from bot.domain.delivery import TargetKind

    org = await connect(services)
    adapter = teams_adapter(services)
    group = ConversationAccount(id="19:groupchat@thread.v2", conversation_type="groupChat", tenant_id=TENANT)
    added = Activity(type="conversationUpdate", conversation=group, members_added=[ChannelAccount(id=BOT_ID)])
    await adapter.receive_activity(added)
    assert "columns en herinneringen" in card_text(adapter.get_next_activity().attachments[0].content)
    await say(adapter, "hulp")  # and a personal chat
    store = reference_store(services)
    (chat,) = await store.targets(org.id, TargetKind.CHANNEL)
    (person,) = await store.targets(org.id, TargetKind.PERSON)
    assert chat.workspace_id == person.workspace_id == TENANT
    stored = await store.get(chat.address)
    assert stored is not None
    assert stored.reference.conversation_id == "19:groupchat@thread.v2"
    removed = Activity(type="installationUpdate", action="remove", conversation=group)
    await adapter.receive_activity(removed)
    assert await store.targets(org.id, TargetKind.CHANNEL) == []
    assert len(await store.targets(org.id, TargetKind.PERSON)) == 1


async def test_welcome_card_introduces_the_counsellors(services: Services) -> None:
    from bot.storage.tables import CounsellorRow, OrganisationCounsellorRow, PracticeRow

    org = await connect(services)
    async with services.sessions() as session:
        practice = (await session.exec(select(PracticeRow))).first()
        assert practice is not None
        anna = CounsellorRow(
            practice_id=practice.id,
            display_name="Anna de Vries",
            intro_nl="Ik luister.",
            intro_en="I listen.",
        )
        bram = CounsellorRow(practice_id=practice.id, display_name="Bram Jansen")
        session.add_all([anna, bram])
        await session.flush()
        session.add_all(
            [
                OrganisationCounsellorRow(organisation_id=org.id, counsellor_id=anna.id, role="primary"),
                OrganisationCounsellorRow(organisation_id=org.id, counsellor_id=bram.id, role="deputy"),
            ]
        )
        await session.commit()
    adapter = teams_adapter(services, locale="en-US")
    await adapter.receive_activity(
        Activity(type="conversationUpdate", members_added=[ChannelAccount(id=BOT_ID)])
    )
    welcome = card_text(adapter.get_next_activity().attachments[0].content)
    assert welcome.index("Anna de Vries") < welcome.index("Bram Jansen")
    assert "I listen." in welcome
    assert "Deputy confidential counsellor" in welcome
    assert "No sessions are planned right now." in welcome


async def test_in_a_channel_the_bot_answers_mentions_the_same_way(services: Services) -> None:
    await connect(services)
    adapter = teams_adapter(services)
    channel = ConversationAccount(
        id="19:c@thread.tacv2;messageid=1700", conversation_type="channel", tenant_id=TENANT
    )
    mention = "<at>vipbot</at> "
    await adapter.receive_activity(Activity(type="message", text=mention + "kaart", conversation=channel))
    assert "Ook hier kun je terecht" in card_text(adapter.get_next_activity().attachments[0].content)
    await adapter.receive_activity(
        Activity(type="message", text=mention + "iets vertrouwelijks", conversation=channel)
    )
    assert "bewaar of lees ik niet" in card_text(adapter.get_next_activity().attachments[0].content)

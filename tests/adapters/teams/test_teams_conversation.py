"""Conversation logic through the Agents SDK endpoint: activities posted to /api/messages of the running service,
replies read from the Bot Connector double (commands, card submits, locales, unknown tenants)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import aiohttp
import pytest
from sqlmodel import select

from bot.adapters.teams import reference_store
from bot.app import Services
from bot.domain.content import SocialMapEntry, Text
from bot.domain.home import HomeInfo, HomeSource, UpcomingSession
from bot.domain.tenancy import Organisation
from tests.adapters.teams.support import (
    BOT_ID,
    OTHER_TENANT,
    PERSONAL_CHAT,
    TENANT,
    USER_ID,
    activity,
    card_text,
    cards_of,
    connect,
    running,
)
from tests.doubles.bf_connector import BotConnectorDouble


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


class Chat:
    """One Teams chat with the bot: posts activities as Teams does, returns the cards the bot answered with."""

    def __init__(
        self, http: aiohttp.ClientSession, base: str, connector: BotConnectorDouble, **defaults: Any
    ) -> None:
        self._http = http
        self._base = base
        self._connector = connector
        self._defaults = defaults

    def with_(self, **defaults: Any) -> Chat:
        return Chat(self._http, self._base, self._connector, **{**self._defaults, **defaults})

    async def post(self, kind: str, **extra: Any) -> list[dict[str, Any]]:
        values = {**self._defaults, **extra}
        tenant = values.pop("tenant", TENANT)
        scope = values.pop("scope", "personal")
        values.setdefault("locale", "nl-NL")
        body = activity(self._connector.url, kind, scope=scope, tenant=tenant, **values)
        if body["locale"] is None:
            del body["locale"]
        before = len(self._connector.requests)
        async with self._http.post(f"{self._base}/api/messages", json=body) as response:
            await response.read()
            assert response.status in {200, 201, 202}, response.status
        return cards_of([r.body for r in self._connector.requests[before:] if r.kind in {"send", "reply"}])

    async def say(self, text: str | None = None, value: dict[str, Any] | None = None) -> str:
        extra: dict[str, Any] = {}
        if text is not None:
            extra["text"] = text
        if value is not None:
            extra["value"] = value
        (reply,) = await self.post("message", **extra)
        return card_text(reply)


@pytest.fixture
async def chat(services: Services, bf_connector: BotConnectorDouble) -> AsyncIterator[Chat]:
    async with running(services) as base, aiohttp.ClientSession() as http:
        yield Chat(http, base, bf_connector)


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
async def test_commands_mirror_slack(services: Services, chat: Chat, typed: str, expected: str) -> None:
    await connect(services)
    text = await chat.say(typed)
    assert expected in text
    assert "bewaar of lees ik niet" not in text


async def test_free_text_gets_the_door_and_why(services: Services, chat: Chat) -> None:
    await connect(services)
    text = await chat.say("ik wil iets kwijt over mijn team")
    assert "bewaar of lees ik niet" in text
    assert "Start een vertrouwelijk gesprek" in text
    assert "ik wil iets kwijt" not in text


async def test_card_submits_and_sessions_from_the_calendar(services: Services, chat: Chat) -> None:
    org = await connect(services)
    calendar = OneSession()
    services.session_calendar = calendar
    text = await chat.say(value={"vipbot": "sessions"})
    assert "Intervisie: grenzen aangeven" in text
    assert "{{DATE(2026-03-05T08:00:00Z, COMPACT)}}" in text
    assert "Zaal 2" in text
    assert calendar.asked == [org.id]


async def test_english_readers_get_english(services: Services, chat: Chat) -> None:
    await connect(services)
    english = chat.with_(locale="en-US")
    assert "Type one of these words" in await english.say("help")
    assert "Where to go" in await english.say("map")
    assert "I do not keep, read or forward" in await english.say("something personal")


async def test_one_language_per_chat_when_the_bot_added_event_has_no_locale(
    services: Services, chat: Chat
) -> None:
    """Teams often leaves the locale out of the "bot added" event: the welcome is then in the organisation's
    language, and the chat stays in it rather than switching to English halfway."""
    await connect(services)
    (welcome,) = await chat.post("conversationUpdate", membersAdded=[{"id": BOT_ID}], locale=None)
    assert "Hier vind je de vertrouwenspersoon" in card_text(welcome)
    english = chat.with_(locale="en-US")
    assert "Typ een van deze woorden" in await english.say("help")


async def test_a_message_stores_the_personal_chat_once(services: Services, chat: Chat) -> None:
    org = await connect(services)
    await chat.say("hulp")
    await chat.say("kaart")
    (stored,) = await reference_store(services).list_references(org.id)
    assert stored.reference.conversation_id == PERSONAL_CHAT
    assert stored.reference.user_id == USER_ID


async def test_unknown_tenant_gets_told_and_nothing_is_stored(services: Services, chat: Chat) -> None:
    org = await connect(services)
    text = await chat.with_(tenant=OTHER_TENANT).say("hulp")
    assert "nog niet gekoppeld" in text
    assert await reference_store(services).list_references(org.id) == []


async def test_tenants_stay_apart(services: Services, chat: Chat) -> None:
    first = await connect(services)
    second = await connect(services, tenant=OTHER_TENANT, slug="bouw")
    await chat.with_(tenant=OTHER_TENANT).say("hulp")
    assert await reference_store(services).list_references(first.id) == []
    assert len(await reference_store(services).list_references(second.id)) == 1


async def test_group_chats_install_and_uninstall_and_targets(services: Services, chat: Chat) -> None:
    from bot.domain.delivery import TargetKind

    org = await connect(services)
    group = {"id": "19:groupchat@thread.v2", "conversationType": "groupChat", "tenantId": TENANT}
    (greeting,) = await chat.post("conversationUpdate", conversation=group, membersAdded=[{"id": BOT_ID}])
    assert "columns en herinneringen" in card_text(greeting)
    await chat.say("hulp")  # and a personal chat
    store = reference_store(services)
    (group_chat,) = await store.targets(org.id, TargetKind.CHANNEL)
    (person,) = await store.targets(org.id, TargetKind.PERSON)
    assert group_chat.workspace_id == person.workspace_id == TENANT
    stored = await store.get(group_chat.address)
    assert stored is not None
    assert stored.reference.conversation_id == "19:groupchat@thread.v2"
    await chat.post("installationUpdate", action="remove", conversation=group)
    assert await store.targets(org.id, TargetKind.CHANNEL) == []
    assert len(await store.targets(org.id, TargetKind.PERSON)) == 1


async def test_welcome_card_introduces_the_counsellors(services: Services, chat: Chat) -> None:
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
    (card,) = await chat.post("conversationUpdate", membersAdded=[{"id": BOT_ID}], locale="en-US")
    welcome = card_text(card)
    assert welcome.index("Anna de Vries") < welcome.index("Bram Jansen")
    assert "I listen." in welcome
    assert "Deputy confidential counsellor" in welcome
    assert "No sessions are planned right now." in welcome


async def test_in_a_channel_the_bot_answers_mentions_the_same_way(services: Services, chat: Chat) -> None:
    await connect(services)
    channel = chat.with_(
        conversation={
            "id": "19:c@thread.tacv2;messageid=1700",
            "conversationType": "channel",
            "tenantId": TENANT,
        }
    )
    mention = "<at>vipbot</at> "
    assert "Ook hier kun je terecht" in await channel.say(mention + "kaart")
    assert "bewaar of lees ik niet" in await channel.say(mention + "iets vertrouwelijks")


class WithOwnEntry:
    """The front door as the organisation's own sociale kaart makes it: its own entry before the template's (the
    console's editing of these entries fills HomeInfo the same way; Teams renders whatever HomeInfo carries)."""

    def __init__(self, source: HomeSource, entry: SocialMapEntry) -> None:
        self._source = source
        self._entry = entry

    async def for_organisation(self, organisation: Organisation) -> HomeInfo:
        home = await self._source.for_organisation(organisation)
        return replace(home, social_map=(self._entry, *home.social_map))


async def test_the_counsellor_s_photo_and_intro_and_the_organisation_s_sociale_kaart_reach_teams(
    services: Services, bf_connector: BotConnectorDouble
) -> None:
    """What HomeInfo carries is what Teams shows, through the connector double: the counsellor's photo (an https
    address only) beside their introduction on the welcome card, and the organisation's own sociale kaart entry
    behind the card's sociale kaart button."""
    from bot.storage.tables import CounsellorRow, OrganisationCounsellorRow, PracticeRow

    own = SocialMapEntry(
        "bedrijfsmaatschappelijk-werk",
        "internal",
        Text("Bedrijfsmaatschappelijk werk <De Linde>", "Company social work <De Linde>"),
        Text(
            "Gratis en vertrouwelijk, ook voor privézaken.",
            "Free and confidential, also for private matters.",
        ),
        phone="030 123 45 67",
        url="https://intranet.delinde.example/bmw",
    )
    assert services.home is not None
    services.home = WithOwnEntry(services.home, own)
    org = await connect(services)
    photo = "https://vp.example.nl/photos/anna.jpg"
    async with services.sessions() as session:
        practice = (await session.exec(select(PracticeRow))).first()
        assert practice is not None
        anna = CounsellorRow(
            practice_id=practice.id,
            display_name="Anna <de> Vries",
            photo_url=photo,
            intro_nl="Ik luister & help.",
        )
        bram = CounsellorRow(
            practice_id=practice.id, display_name="Bram Jansen", photo_url="http://x.nl/b.jpg"
        )
        session.add_all([anna, bram])
        await session.flush()
        session.add_all(
            [
                OrganisationCounsellorRow(organisation_id=org.id, counsellor_id=anna.id, role="primary"),
                OrganisationCounsellorRow(organisation_id=org.id, counsellor_id=bram.id, role="deputy"),
            ]
        )
        await session.commit()
    async with running(services) as base, aiohttp.ClientSession() as http:
        chat = Chat(http, base, bf_connector)
        (card,) = await chat.post("conversationUpdate", membersAdded=[{"id": BOT_ID}])
        welcome = card_text(card)
        assert "Anna <de> Vries" in welcome
        assert "Ik luister & help." in welcome
        images = [
            item
            for element in card["body"]
            if element["type"] == "ColumnSet"
            for column in element["columns"]
            for item in column["items"]
            if item["type"] == "Image"
        ]
        assert [(i["url"], i["altText"]) for i in images] == [(photo, "Anna <de> Vries")]  # never plain http
        (button,) = [a for a in card["actions"] if a.get("data", {}).get("vipbot") == "social_map"]
        social = await chat.say(value=button["data"])
    assert "Bedrijfsmaatschappelijk werk <De Linde>" in social
    assert "Gratis en vertrouwelijk, ook voor privézaken." in social
    assert "[intranet.delinde.example/bmw](https://intranet.delinde.example/bmw)" in social
    assert services.content.catalog.social_map[0].name.nl in social  # the template's entries follow

"""End to end over HTTP: Activities posted into /api/messages of the running service, the bot's replies and
proactive sends seen by the Bot Framework connector double on loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.adapters.teams import reference_store
from bot.app import Services
from bot.domain.delivery import ColumnPost, DeliveryError, DeliveryFailureKind, Target, TargetKind
from bot.domain.tenancy import Platform
from bot.settings import Settings, load_settings
from bot.storage.teams_references import TeamsScope
from tests.adapters.teams.support import (
    BOT_ID,
    CHANNEL_ID,
    OTHER_TENANT,
    PERSONAL_CHAT,
    TEAM_ID,
    TENANT,
    USER_ID,
    activity,
    captured_logs,
    card_text,
    cards_of,
    connect,
    database_text,
    eventually,
    open_urls,
    running,
)
from tests.conftest import TEST_SECRET_KEY
from tests.doubles.bf_connector import CHANNEL_ISSUER, ISSUED_TOKEN, SIGNING_KEY_ID, BotConnectorDouble


def _unsigned(header: dict[str, object], claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


CANARY = "CANARY-7f3a9c-mijn-leidinggevende-intimideert-mij"


async def post(http: aiohttp.ClientSession, base: str, body: dict[str, object], **headers: str) -> int:
    async with http.post(f"{base}/api/messages", json=body, headers=headers) as response:
        await response.read()
        return response.status


async def test_install_welcome_door_proactive_uninstall(
    services: Services, bf_connector: BotConnectorDouble, settings: Settings
) -> None:
    org = await connect(services)
    store = reference_store(services)
    with captured_logs() as logs:
        async with running(services) as base, aiohttp.ClientSession() as http:
            # Installing the app in personal scope stores the reference and greets with the welcome card.
            added = activity(bf_connector.url, "conversationUpdate", membersAdded=[{"id": BOT_ID}])
            assert await post(http, base, added) in {200, 201, 202}
            stored = await store.list_references(org.id)
            assert [(s.reference.scope, s.reference.conversation_id) for s in stored] == [
                (TeamsScope.PERSONAL, PERSONAL_CHAT)
            ]
            welcome = cards_of(bf_connector.activities(PERSONAL_CHAT))
            assert len(welcome) == 1
            assert "Hier vind je de vertrouwenspersoon" in card_text(welcome[0])
            assert "Zorg & Welzijn" in card_text(welcome[0])
            assert open_urls(welcome[0]) == ["http://vipbot.test/portal/zorg"]

            # Typed text gets the door card — and goes nowhere else.
            typed = activity(bf_connector.url, "message", text=CANARY)
            assert await post(http, base, typed) in {200, 201, 202}
            door = cards_of(bf_connector.activities(PERSONAL_CHAT))[-1]
            assert "bewaar of lees ik niet" in card_text(door)
            assert open_urls(door) == ["http://vipbot.test/portal/zorg"]

            # A card submit (the welcome card's "Sociale kaart" button) answers with the sociale kaart.
            submit = activity(bf_connector.url, "message", value={"vipbot": "social_map"})
            assert await post(http, base, submit) in {200, 201, 202}
            assert "Sociale kaart" in card_text(cards_of(bf_connector.activities(PERSONAL_CHAT))[-1])

            # The gateway posts proactively into the stored personal chat.
            gateway = services.platforms[Platform.TEAMS].gateway
            assert gateway is not None
            renderer = services.platforms[Platform.TEAMS].renderers
            column = services.content.catalog.columns[0]
            rendered = renderer.render(ColumnPost(column, "http://vipbot.test/portal/zorg"), "nl-NL")
            target = Target(Platform.TEAMS, TENANT, TargetKind.PERSON, stored[0].address)
            before = len(bf_connector.requests)
            sent = await gateway.send(target, rendered)
            (request,) = bf_connector.requests[before:]
            assert (request.kind, request.status, request.authorization) == ("send", 200, None)
            proactive = [request.body]
            assert proactive[0]["conversation"]["id"] == PERSONAL_CHAT
            assert column.title.nl in card_text(cards_of(proactive)[0])
            await gateway.update(target, sent, rendered)
            assert bf_connector.activities(PERSONAL_CHAT, kind="update")[0]["id"] == sent.message_id

            # Uninstalling removes the reference; the gateway then refuses the target for good.
            removed = activity(bf_connector.url, "installationUpdate", action="remove")
            assert await post(http, base, removed) in {200, 201, 202}
            assert await store.list_references(org.id) == []
            with pytest.raises(DeliveryError) as refused:
                await gateway.send(target, rendered)
            assert refused.value.kind is DeliveryFailureKind.PERMANENT

    # The canary is nowhere: not in the database, not in the logs, not in anything sent to Teams.
    assert CANARY not in await database_text(services)
    assert_not_in_database_files(CANARY, settings)
    assert CANARY not in logs.getvalue()
    assert CANARY.encode() not in bf_connector.raw_traffic()
    assert USER_ID not in logs.getvalue()
    assert PERSONAL_CHAT not in logs.getvalue()
    assert "teams conversation installed" in logs.getvalue()  # the log capture itself works


def assert_not_in_database_files(canary: str, settings: Settings) -> None:
    if not settings.effective_database_url.startswith("sqlite"):
        return  # PostgreSQL: the row dump above covers it
    database_file = Path(settings.effective_database_url.split("///", 1)[1])
    assert database_file.exists()
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{database_file}{suffix}")
        if path.exists():
            assert canary.encode() not in path.read_bytes(), path.name


async def test_team_install_and_uninstall(services: Services, bf_connector: BotConnectorDouble) -> None:
    org = await connect(services)
    store = reference_store(services)
    roster = [{"id": f"29:member-{i}", "name": f"Member {i}"} for i in range(3)] + [
        {"id": BOT_ID, "name": "vipbot"}
    ]
    bf_connector.set_members(TEAM_ID, roster)
    async with running(services) as base, aiohttp.ClientSession() as http:
        added = activity(
            bf_connector.url, "conversationUpdate", scope="channel", membersAdded=[{"id": BOT_ID}]
        )
        assert await post(http, base, added) in {200, 201, 202}

        async def roster_read() -> bool:
            return len(await store.targets(org.id, TargetKind.PERSON)) == 3

        await eventually(roster_read)
        people = await store.targets(org.id, TargetKind.PERSON)
        (stored,) = await store.list_references(org.id, TeamsScope.CHANNEL)
        assert stored.reference.scope is TeamsScope.CHANNEL
        assert stored.reference.team_name == "Team Zorg"
        greeting = cards_of(bf_connector.activities(CHANNEL_ID))
        assert "columns en herinneringen" in card_text(greeting[0])
        # A channel binding to a group uses the reference's address.
        await services.organisations.bind_channel(
            org.id, "zorg", Platform.TEAMS, TENANT, stored.address, "Team Zorg / General"
        )
        # A roster member is reached in a personal chat the gateway creates on first send.
        gateway = services.platforms[Platform.TEAMS].gateway
        assert gateway is not None
        column = services.content.catalog.columns[0]
        rendered = services.platforms[Platform.TEAMS].renderers.render(
            ColumnPost(column, "http://vipbot.test/portal/zorg"), "nl"
        )
        await gateway.send(people[0], rendered)
        (created,) = bf_connector.created_conversations()
        assert created["members"][0]["id"].startswith("29:member-")
        # Members who join later are added, members who leave are forgotten.
        joined = activity(
            bf_connector.url, "conversationUpdate", scope="channel", membersAdded=[{"id": "29:new"}]
        )
        assert await post(http, base, joined) in {200, 201, 202}
        left = activity(
            bf_connector.url, "conversationUpdate", scope="channel", membersRemoved=[{"id": "29:member-2"}]
        )
        assert await post(http, base, left) in {200, 201, 202}
        assert len(await store.targets(org.id, TargetKind.PERSON)) == 3
        # Uninstalling from the team forgets its channel and its roster.
        removed = activity(
            bf_connector.url, "conversationUpdate", scope="channel", membersRemoved=[{"id": BOT_ID}]
        )
        assert await post(http, base, removed) in {200, 201, 202}
        assert await store.list_references(org.id) == []
        (binding,) = await services.organisations.bindings(org.id)
        assert binding.archived


async def test_a_person_is_one_target_from_a_roster_and_a_personal_chat(
    services: Services, bf_connector: BotConnectorDouble
) -> None:
    org = await connect(services)
    store = reference_store(services)
    bf_connector.set_members(TEAM_ID, [{"id": USER_ID}, {"id": BOT_ID}])
    async with running(services) as base, aiohttp.ClientSession() as http:
        team = activity(
            bf_connector.url, "conversationUpdate", scope="channel", membersAdded=[{"id": BOT_ID}]
        )
        assert await post(http, base, team) in {200, 201, 202}

        async def roster_read() -> bool:
            return len(await store.targets(org.id, TargetKind.PERSON)) == 1

        await eventually(roster_read)
        personal = activity(bf_connector.url, "conversationUpdate", membersAdded=[{"id": BOT_ID}])
        assert await post(http, base, personal) in {200, 201, 202}
        again = activity(
            bf_connector.url, "conversationUpdate", scope="channel", membersAdded=[{"id": BOT_ID}]
        )
        assert await post(http, base, again) in {200, 201, 202}
    (person,) = await store.targets(org.id, TargetKind.PERSON)
    stored = await store.get(person.address)
    assert stored is not None
    assert (stored.reference.scope, stored.reference.conversation_id) == (TeamsScope.PERSONAL, PERSONAL_CHAT)


async def test_unknown_tenant_is_told_and_nothing_is_stored(
    services: Services, bf_connector: BotConnectorDouble
) -> None:
    org = await connect(services)
    async with running(services) as base, aiohttp.ClientSession() as http:
        added = activity(
            bf_connector.url, "conversationUpdate", tenant=OTHER_TENANT, membersAdded=[{"id": BOT_ID}]
        )
        assert await post(http, base, added) in {200, 201, 202}
    assert await reference_store(services).list_references(org.id) == []
    assert "nog niet gekoppeld" in card_text(cards_of(bf_connector.activities(PERSONAL_CHAT))[0])


APP_ID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def authenticated_services(services: Services, tmp_path: Path, bf_connector: BotConnectorDouble) -> Services:
    settings = load_settings(
        {
            "VIPBOT_DATA_DIR": str(tmp_path / "data"),
            "VIPBOT_DATABASE_URL": services.settings.database_url or "",
            "VIPBOT_SECRET_KEY": TEST_SECRET_KEY,
            "VIPBOT_BASE_URL": "http://vipbot.test",
            "MICROSOFT_APP_ID": APP_ID,
            "MICROSOFT_APP_PASSWORD": "app-password-for-tests",
            "VIPBOT_TEAMS_LOGIN_URL": bf_connector.url,
            "VIPBOT_TEAMS_OPENID_METADATA_URL": bf_connector.openid_metadata_url,
        },
        dotenv_path=None,
    )
    return Services(settings=settings, clock=services.clock, engine=services.engine, content=services.content)


async def test_with_an_app_id_requests_without_a_valid_token_get_401_and_change_nothing(
    authenticated_services: Services, bf_connector: BotConnectorDouble
) -> None:
    services = authenticated_services
    org = await connect(services)
    before = await database_text(services)
    async with running(services) as base, aiohttp.ClientSession() as http:
        added = activity(bf_connector.url, "conversationUpdate", membersAdded=[{"id": BOT_ID}])
        assert await post(http, base, added) == 401
        assert await post(http, base, added, Authorization="Bearer not-a-token") == 401
        unsigned = (
            "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2FwaS5ib3RmcmFtZXdvcmsuY29tIn0."
        )
        assert await post(http, base, added, Authorization=unsigned) == 401
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = bf_connector.channel_token(APP_ID, bf_connector.url, key=other_key)
        assert await post(http, base, added, Authorization=f"Bearer {forged}") == 401
        unknown_key = bf_connector.channel_token(APP_ID, bf_connector.url, key_id="no-such-key")
        assert await post(http, base, added, Authorization=f"Bearer {unknown_key}") == 401
        expired = bf_connector.channel_token(APP_ID, bf_connector.url, expires_in=-3600)
        assert await post(http, base, added, Authorization=f"Bearer {expired}") == 401
        other_bot = bf_connector.channel_token("another-bot", bf_connector.url)
        assert await post(http, base, added, Authorization=f"Bearer {other_bot}") == 401
        other_issuer = bf_connector.channel_token(APP_ID, bf_connector.url, issuer="https://evil.example")
        assert await post(http, base, added, Authorization=f"Bearer {other_issuer}") == 401
        # A genuine token for one service URL must not send the bot's answers to another.
        elsewhere = bf_connector.channel_token(APP_ID, "https://smba.trafficmanager.net/emea/")
        assert await post(http, base, added, Authorization=f"Bearer {elsewhere}") == 401
        # The public key used as an HMAC secret ("alg confusion") and an unsigned token with a known key id.
        public_pem = bf_connector.public_key_pem()
        unsigned_hs256 = _unsigned(
            {"alg": "HS256", "kid": SIGNING_KEY_ID},
            {
                "iss": CHANNEL_ISSUER,
                "aud": APP_ID,
                "serviceurl": bf_connector.url,
                "exp": int(time.time()) + 600,
            },
        )
        mac = hmac.new(public_pem, unsigned_hs256[:-1].encode(), hashlib.sha256).digest()
        hs256 = unsigned_hs256 + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
        assert await post(http, base, added, Authorization=f"Bearer {hs256}") == 401
        unsigned_with_kid = _unsigned(
            {"alg": "none", "kid": SIGNING_KEY_ID},
            {
                "iss": CHANNEL_ISSUER,
                "aud": APP_ID,
                "serviceurl": bf_connector.url,
                "exp": int(time.time()) + 600,
            },
        )
        assert await post(http, base, added, Authorization=f"Bearer {unsigned_with_kid}") == 401
    assert await reference_store(services).list_references(org.id) == []
    assert await database_text(services) == before
    assert [r.kind for r in bf_connector.requests if r.kind != "token"] == []


async def test_with_an_app_id_a_signed_request_is_served(
    authenticated_services: Services, bf_connector: BotConnectorDouble
) -> None:
    """The same install activity as above, with a valid token: served, and the welcome goes out with the bot's
    own token from the login endpoint (the connector double refuses calls without it)."""
    services = authenticated_services
    org = await connect(services)
    bf_connector.require_token = True
    async with running(services) as base, aiohttp.ClientSession() as http:
        added = activity(bf_connector.url, "conversationUpdate", membersAdded=[{"id": BOT_ID}])
        token = bf_connector.channel_token(APP_ID, bf_connector.url + "/")
        assert await post(http, base, added, Authorization=f"Bearer {token}") in {200, 201, 202}
    assert len(await reference_store(services).list_references(org.id)) == 1
    (welcome,) = cards_of(bf_connector.activities(PERSONAL_CHAT))
    assert "Hier vind je de vertrouwenspersoon" in card_text(welcome)
    (reply,) = [r for r in bf_connector.requests if r.kind in {"send", "reply"}]
    assert reply.authorization == f"Bearer {ISSUED_TOKEN}"


async def test_public_cloud_configuration_refuses_requests_without_a_token(
    services: Services, bf_connector: BotConnectorDouble, tmp_path: Path
) -> None:
    """Without endpoint overrides the keys come from Microsoft's public metadata; no network is needed to refuse a
    request without a token or with a malformed one."""
    settings = services.settings.model_copy(
        update={"microsoft_app_id": APP_ID, "microsoft_app_password": services.settings.secret_key}
    )
    public = Services(
        settings=settings, clock=services.clock, engine=services.engine, content=services.content
    )
    org = await connect(public)
    async with running(public) as base, aiohttp.ClientSession() as http:
        added = activity(bf_connector.url, "conversationUpdate", membersAdded=[{"id": BOT_ID}])
        assert await post(http, base, added) == 401
        assert await post(http, base, added, Authorization="Bearer not-a-token") == 401
    assert await reference_store(public).list_references(org.id) == []
    assert bf_connector.requests == []


@pytest.mark.parametrize("scope", ["personal", "channel"])
async def test_the_two_install_events_sent_together_store_one_reference_and_welcome(
    services: Services, bf_connector: BotConnectorDouble, scope: str
) -> None:
    """Teams sends installationUpdate and conversationUpdate together on install; both store the same reference.
    Both must succeed (no "something went wrong" card) and leave one row."""
    org = await connect(services)
    conversation = PERSONAL_CHAT if scope == "personal" else CHANNEL_ID
    async with running(services) as base, aiohttp.ClientSession() as http:
        for _ in range(3):
            installed = activity(bf_connector.url, "installationUpdate", scope=scope, action="add")
            added = activity(
                bf_connector.url, "conversationUpdate", scope=scope, membersAdded=[{"id": BOT_ID}]
            )
            statuses = await asyncio.gather(
                *(post(http, base, body) for body in (installed, added, installed))
            )
            assert all(status in {200, 201, 202} for status in statuses)
    texts = [r.body.get("text") for r in bf_connector.requests if r.kind in {"send", "reply"}]
    assert all(text is None for text in texts), texts  # no error message
    assert len(cards_of(bf_connector.activities(conversation))) == 3  # one welcome per install
    stored = await reference_store(services).list_references(org.id)
    assert len([s for s in stored if s.reference.scope is not TeamsScope.MEMBER]) == 1

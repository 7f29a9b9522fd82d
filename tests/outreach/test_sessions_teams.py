"""Team sessions on Teams: the real Teams renderer and gateway against the Bot Framework connector double
(announcement and reminder to a channel and to a personal chat found through the adapter's references), and the
"count me in" / "withdraw" submit answered with the updated card."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import aiohttp

from bot.adapters.teams.cards import ACTION_KEY, CardKit, TeamsRenderer
from bot.adapters.teams.gateway import TeamsGateway
from bot.adapters.teams.sessions import answer_session_submit
from bot.app import Services
from bot.domain.clock import FixedClock
from bot.domain.outreach import Audience, What
from bot.domain.sessions import SIGNUP_ACTION, WITHDRAW_ACTION, TeamSession
from bot.domain.tenancy import Platform
from bot.security.secret import Secret
from bot.storage.teams_references import TeamsReference, TeamsReferenceStore, TeamsScope
from scheduler.service import TEAMS_REFERENCES_KEY, build_outreach
from scheduler.worker import WorkerConfig
from tests.conftest import TEST_SECRET_KEY
from tests.doubles.bf_connector import BotConnectorDouble

TENANT = "tenant-linde"
PERSONAL = "a:personal-chat-1"
CHANNEL = "19:zorg@thread.tacv2"


def card_of(activity: dict[str, Any]) -> dict[str, Any]:
    return dict(activity["attachments"][0]["content"])


def actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    return list(card.get("actions", []))


async def test_a_team_session_end_to_end_on_teams(  # noqa: PLR0915  (one story, told in order)
    services: Services, bf_connector: BotConnectorDouble
) -> None:
    clock = services.clock
    assert isinstance(clock, FixedClock)
    org = await services.organisations.add_organisation(
        "Zorggroep De Linde", "linde", "Europe/Amsterdam", "nl", 90
    )
    store = TeamsReferenceStore(services.sessions, Secret(TEST_SECRET_KEY.encode()))
    await store.connect_tenant(org.id, TENANT)
    common = {"tenant_id": TENANT, "service_url": bf_connector.url, "bot_id": "28:vipbot"}
    personal = TeamsReference(
        scope=TeamsScope.PERSONAL, conversation_id=PERSONAL, user_id="29:person", **common
    )
    channel = TeamsReference(scope=TeamsScope.CHANNEL, conversation_id=CHANNEL, team_id="team-1", **common)
    await store.save(org.id, personal)
    channel_address = await store.save(org.id, channel)
    await services.organisations.bind_channel(
        org.id, "linde", Platform.TEAMS, TENANT, channel_address, "Zorg"
    )

    async with aiohttp.ClientSession() as http:
        translator = services.content.translator
        services.extras["teams.renderer"] = TeamsRenderer(CardKit(translator))
        services.extras["teams.gateway"] = TeamsGateway(store, http, None)
        services.extras[TEAMS_REFERENCES_KEY] = store
        outreach = build_outreach(services)
        starts = clock.now() + timedelta(days=2)
        session = TeamSession(
            id=uuid.uuid4(),
            organisation_id=org.id,
            title="Teamoverleg: wat doet de vertrouwenspersoon?",
            description="Een kwartier in jullie teamoverleg.",
            starts_at=starts,
            ends_at=starts + timedelta(minutes=45),
            place=None,
            online_url="https://teams.example/meet/1",
            audience=Audience(groups=("linde",), members=True, platforms=(Platform.TEAMS,)),
            locale="en",
        )
        await outreach.sessions.add(session)
        done = await outreach.materialiser.publish_now(
            org, What.SESSION, str(session.id), session.audience, "en"
        )
        targets = await outreach.materialiser.addressees(org, session.audience)
        assert done.deliveries == 2, targets  # the bound channel and the personal chat the adapter knows
        worker = outreach.worker(WorkerConfig(rate_per_second=100))
        assert await worker.drain() == 2

        announcement = card_of(bf_connector.activities(PERSONAL)[0])
        assert card_of(bf_connector.activities(CHANNEL)[0]) == announcement
        text = json.dumps(announcement)
        assert "Team session with the confidential counsellor" in text
        assert "No sign-ups yet" in text
        signup = actions(announcement)[0]
        assert signup["type"] == "Action.Submit"
        assert signup["data"] == {ACTION_KEY: SIGNUP_ACTION, "session": str(session.id)}
        ics = actions(announcement)[1]
        assert ics["type"] == "Action.OpenUrl"
        assert ics["url"].endswith(f"/outreach/sessions/{session.id}.ics")

        async def press(data: dict[str, Any], tenant: str = TENANT) -> dict[str, Any]:
            answered = await answer_session_submit(
                data, tenant, "29:person", outreach.sessions, translator, "en", ics["url"]
            )
            assert answered is not None
            return answered

        after = await press(signup["data"])
        assert "1 person signed up" in json.dumps(after)
        assert "You're signed up for" in json.dumps(after)
        assert "29:person" not in json.dumps(after)
        withdraw = actions(after)[0]
        assert withdraw["data"] == {ACTION_KEY: WITHDRAW_ACTION, "session": str(session.id)}
        await press(signup["data"])  # a repeated submit counts once
        assert await outreach.sessions.count(org.id, session.id) == 1

        # Another tenant cannot sign up for this organisation's session.
        refused = await press(signup["data"], tenant="tenant-elsewhere")
        assert "This session is over or cancelled." in json.dumps(refused)
        assert await outreach.sessions.count(org.id, session.id) == 1

        back = await press(withdraw["data"])
        assert "No sign-ups yet" in json.dumps(back)
        assert actions(back)[0]["data"][ACTION_KEY] == SIGNUP_ACTION

        await outreach.materialiser.publish_now(
            org, What.SESSION_REMINDER, str(session.id), session.audience, "en", send_at=clock.now()
        )
        assert await worker.drain() == 2
        reminder = json.dumps(card_of(bf_connector.activities(PERSONAL)[-1]))
        assert "Tomorrow: team session" in reminder

        # A cancelled session is not posted any more; queued posts about it fail visibly instead.
        await outreach.sessions.cancel(org.id, session.id)
        await outreach.materialiser.publish_now(
            org, What.SESSION_REMINDER, str(session.id), session.audience, "en", send_at=clock.now()
        )
        fresh = outreach.worker(WorkerConfig(rate_per_second=100))
        assert await fresh.drain() == 2
        stats = await outreach.outbox.stats(org.id)
        assert stats.failed == 2
        assert dict(stats.failures) == {"nothing to post (item removed or cancelled)": 2}
        assert len(bf_connector.activities(PERSONAL)) == 2

"""Team sessions end to end on Teams, over HTTP: the service with the Teams adapter and the outreach feature, the
Bot Framework connector double as Teams. The bot is installed in a personal chat and a team channel; the session is
announced to both; "count me in" and "withdraw" are Universal Actions (`adaptiveCard/action` invokes posted into
/api/messages), answered with the clicker's own view of the card, which Teams shows to them only — the message
everybody sees never changes; the day-before reminder goes to everybody; the .ics file is served. Counts, never
names."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from icalendar import Calendar

from bot.adapters import teams
from bot.adapters.teams.cards import ACTION_KEY
from bot.app import Services
from bot.domain.clock import FixedClock
from bot.domain.outreach import Audience, What
from bot.domain.team_sessions import SIGNUP_ACTION, WITHDRAW_ACTION, TeamSession
from bot.domain.tenancy import Platform
from scheduler import service as outreach_feature
from scheduler.worker import WorkerConfig
from tests.adapters.teams.support import (
    CHANNEL_ID,
    PERSONAL_CHAT,
    USER_ID,
    activity,
    connect,
    install_in_chat_and_channel,
    serving,
)
from tests.doubles.bf_connector import BotConnectorDouble

OTHER_USER = "29:user-aad-0002"


FEATURES = [teams.install, outreach_feature.install]


def card_of(sent: dict[str, Any]) -> dict[str, Any]:
    return dict(sent["attachments"][0]["content"])


def submits(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in card.get("actions", []) if a["type"] == "Action.Execute"]


def text_of(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


async def test_a_team_session_end_to_end_on_teams(  # noqa: PLR0915  (one story, told in order)
    services: Services, bf_connector: BotConnectorDouble
) -> None:
    configured = Services(
        settings=services.settings.model_copy(update={"scheduler_enabled": False}),
        clock=services.clock,
        engine=services.engine,
        content=services.content,
    )
    clock = configured.clock
    assert isinstance(clock, FixedClock)
    org = await connect(configured, slug="linde")

    async with serving(configured, FEATURES) as (server, http):

        async def post(body: dict[str, Any]) -> None:
            async with http.post(str(server.make_url("/api/messages")), json=body) as response:
                assert response.status in {200, 201, 202}, await response.text()

        # The bot is installed in a personal chat and in a team's channel; the channel is bound to the org.
        await install_in_chat_and_channel(post, bf_connector.url, configured, org, "linde")

        outreach = configured.outreach
        assert outreach is not None
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
        await outreach.team_sessions.add(session)
        done = await outreach.materialiser.publish_now(
            org, What.SESSION, str(session.id), session.audience, "en"
        )
        assert done.deliveries == 2  # the bound channel and the personal chat the adapter knows
        worker = outreach.worker(WorkerConfig(rate_per_second=100, poll_interval=0.05))
        assert await worker.drain() == 2

        # (each conversation's first card is the bot's hello at install)
        in_chat = bf_connector.activities(PERSONAL_CHAT, kind="send")[-1]
        in_channel = bf_connector.activities(CHANNEL_ID, kind="send")[-1]
        announcement = card_of(in_chat)
        assert card_of(in_channel) == announcement
        assert "Team session with the confidential counsellor" in text_of(announcement)
        assert "No sign-ups yet" in text_of(announcement)
        (signup,) = submits(announcement)
        assert signup["data"] == {ACTION_KEY: SIGNUP_ACTION, "session": str(session.id), "lang": "en"}
        assert announcement["refresh"]["action"]["data"][ACTION_KEY] == "session_view"
        (ics,) = [a for a in announcement["actions"] if a["type"] == "Action.OpenUrl"]
        assert ics["url"] == f"http://vipbot.test/outreach/sessions/{session.id}.ics"

        def sent_id(conversation: str) -> str:
            """The id Teams gave the latest card sent to a conversation: a click names it in replyToId."""
            found = [
                r for r in bf_connector.requests if r.kind == "send" and r.conversation_id == conversation
            ]
            assert found[-1].answered_id is not None
            return found[-1].answered_id

        chat_card, channel_card = sent_id(PERSONAL_CHAT), sent_id(CHANNEL_ID)

        async def press(
            data: dict[str, Any], *, scope: str = "personal", user: str = USER_ID, card_id: str | None = None
        ) -> dict[str, Any] | None:
            """A click as Teams sends it; returns the card shown to the clicker (None: the card stays as it is).
            Nothing is ever sent to the conversation: the answer travels in the invoke's response only."""
            card_id = card_id or chat_card
            before = len(bf_connector.requests)
            body = activity(
                bf_connector.url,
                "invoke",
                scope=scope,
                name="adaptiveCard/action",
                value={"action": {"type": "Action.Execute", "verb": data[ACTION_KEY], "data": data}},
                replyToId=card_id,
                locale="nl-NL",  # the answer is in the clicked card's language, not the clicker's Teams language
                **{"from": {"id": user, "aadObjectId": "00000000-0000-0000-0000-00000000000f"}},
            )
            async with http.post(str(server.make_url("/api/messages")), json=body) as response:
                assert response.status == 200, await response.text()
                answer = await response.json()
            assert [r for r in bf_connector.requests[before:] if r.kind != "token"] == []
            assert answer["statusCode"] == 200
            if answer["type"] != "application/vnd.microsoft.card.adaptive":
                return None
            return dict(answer["value"])

        # Count me in, from the personal chat: the person's own copy shows the count and their sign-up.
        mine = await press(signup["data"])
        assert mine is not None
        assert "1 person signed up" in text_of(mine)
        assert "You're signed up for" in text_of(mine)
        assert USER_ID not in text_of(mine)
        (withdraw,) = submits(mine)
        assert withdraw["data"] == {ACTION_KEY: WITHDRAW_ACTION, "session": str(session.id), "lang": "en"}
        await press(signup["data"])  # a repeated submit counts once
        assert await outreach.team_sessions.count(org.id, session.id) == 1

        # Someone else signs up in the channel: they alone see their own sign-up (the channel's message stays as
        # it was for everybody else, in its own language), never anyone's name.
        theirs = await press(signup["data"], scope="channel", user=OTHER_USER, card_id=channel_card)
        assert theirs is not None
        assert "2 people signed up" in text_of(theirs)
        assert "You're signed up" in text_of(theirs)
        assert OTHER_USER not in text_of(theirs)
        assert [a["data"][ACTION_KEY] for a in submits(theirs)] == [WITHDRAW_ACTION]
        assert await outreach.team_sessions.count(org.id, session.id) == 2
        # Opening the card again (its refresh) shows each reader their own state and changes nothing.
        view = announcement["refresh"]["action"]["data"]
        assert "You're signed up" in text_of(await press(view, scope="channel", user=OTHER_USER) or {})
        assert "You're signed up" not in text_of(await press(view, scope="channel", user="29:third") or {})
        assert await outreach.team_sessions.count(org.id, session.id) == 2

        # The first person withdraws with the button on their own copy.
        back = await press(withdraw["data"])
        assert back is not None
        assert "1 person signed up" in text_of(back)
        assert "You're signed up" not in text_of(back)
        assert [a["data"][ACTION_KEY] for a in submits(back)] == [SIGNUP_ACTION]
        assert await outreach.team_sessions.count(org.id, session.id) == 1

        # Another tenant's person cannot sign up for this organisation's session.
        await connect(configured, tenant="tenant-elsewhere", slug="elders")
        stranger = activity(
            bf_connector.url,
            "invoke",
            tenant="tenant-elsewhere",
            name="adaptiveCard/action",
            value={"action": {"type": "Action.Execute", "verb": SIGNUP_ACTION, "data": signup["data"]}},
            replyToId=chat_card,
        )
        async with http.post(str(server.make_url("/api/messages")), json=stranger) as response:
            refusal = await response.json()
        assert "This session is over or cancelled." in text_of(refusal["value"])
        assert await outreach.team_sessions.count(org.id, session.id) == 1

        # The day-before reminder goes to the whole audience with the current count; its buttons still work.
        await outreach.materialiser.publish_now(
            org, What.SESSION_REMINDER, str(session.id), session.audience, "en", send_at=clock.now()
        )
        assert await worker.drain() == 2
        reminder = card_of(bf_connector.activities(PERSONAL_CHAT, kind="send")[-1])
        assert "Tomorrow: team session" in text_of(reminder)
        assert "1 person signed up" in text_of(reminder)
        (again,) = submits(reminder)
        from_reminder = await press(again["data"], card_id=sent_id(PERSONAL_CHAT))
        assert from_reminder is not None
        assert "Tomorrow: team session" in text_of(from_reminder)
        assert "2 people signed up" in text_of(from_reminder)

        # The .ics file behind the calendar button.
        async with http.get(str(server.make_url(f"/outreach/sessions/{session.id}.ics"))) as response:
            assert response.status == 200
            assert response.content_type == "text/calendar"
            (event,) = Calendar.from_ical(await response.read()).walk("VEVENT")
        assert str(event["SUMMARY"]) == session.title
        assert event.decoded("DTSTART") == session.starts_at

        # A cancelled session is not posted any more; queued posts about it fail visibly instead, and a click
        # on an old card in a channel tells the clicker alone.
        await outreach.team_sessions.cancel(org.id, session.id)
        closed = await press(signup["data"], scope="channel", user=OTHER_USER, card_id=channel_card)
        assert closed is not None
        assert "This session is over or cancelled." in text_of(closed)
        await outreach.materialiser.publish_now(
            org, What.SESSION_REMINDER, str(session.id), session.audience, "en", send_at=clock.now()
        )
        assert await outreach.worker(WorkerConfig(rate_per_second=100)).drain() == 2
        stats = await outreach.outbox.stats(org.id)
        assert stats.failed == 2
        assert dict(stats.failures) == {"nothing to post (item removed or cancelled)": 2}

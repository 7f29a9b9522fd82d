"""Team sessions end to end on Slack: the real Slack adapter (bolt, gateway, renderer) against the Web API
simulator: announcement, "count me in", withdrawal, the day-before reminder, the .ics file and the Home tab's
calendar. Names are never shown or stored."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from icalendar import Calendar
from sqlmodel import select

from bot.adapters import slack
from bot.app import Services, build_app
from bot.domain.clock import FixedClock
from bot.domain.delivery import Target, TargetKind
from bot.domain.outreach import Audience, What
from bot.domain.team_sessions import SIGNUP_ACTION, WITHDRAW_ACTION, TeamSession
from bot.domain.tenancy import Platform
from bot.security.secret import Secret
from bot.storage.db import session_factory
from bot.storage.slack_installations import SqlSlackInstallations
from bot.storage.tables_outreach import TeamSessionSignupRow
from scheduler import service as outreach_feature
from scheduler.worker import WorkerConfig
from tests.adapters.slack.support import add_org, eventually, signed_headers, slack_services
from tests.conftest import TEST_SECRET_KEY
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator
from tests.support.slack import block_action

PERSON = "U0000PERSON"
OTHER = "U0000OTHER"


def button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no {action_id} button in the message")


def context_texts(message: dict[str, Any]) -> str:
    return " ".join(
        e.get("text", "")
        for b in message.get("blocks") or []
        if b["type"] == "context"
        for e in b["elements"]
    )


async def test_a_team_session_end_to_end_on_slack(  # noqa: PLR0915  (one story, told in order)
    services: Services, slack_api: SlackApiSimulator, database_url: str
) -> None:
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    configured = Services(
        settings=configured.settings.model_copy(update={"scheduler_enabled": False}),
        clock=configured.clock,
        engine=configured.engine,
        content=configured.content,
    )
    clock = configured.clock
    assert isinstance(clock, FixedClock)
    org = await add_org(configured, "Acme Zorg", "acme")
    await SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        org.id, DEFAULT_TEAM
    )
    await configured.organisations.bind_channel(
        org.id, "acme", Platform.SLACK, DEFAULT_TEAM, "C0ALL", "algemeen"
    )
    slack_api.add_channel("C0ALL", "algemeen")
    slack_api.channels["C0ALL"]["is_member"] = True
    for user in (PERSON, OTHER):
        slack_api.add_user(user)

    app: web.Application = build_app(configured, features=[slack.install, outreach_feature.install])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    http = aiohttp.ClientSession()
    try:
        outreach = configured.outreach
        assert outreach is not None
        await outreach.outbox.register_members(
            org.id, [Target(Platform.SLACK, DEFAULT_TEAM, TargetKind.PERSON, u) for u in (PERSON, OTHER)]
        )
        starts = clock.now() + timedelta(days=3, hours=5)
        session = TeamSession(
            id=uuid.uuid4(),
            organisation_id=org.id,
            title="Intervisie: grenzen aangeven",
            description="Een uur samen oefenen met het aangeven van grenzen.",
            starts_at=starts,
            ends_at=starts + timedelta(hours=1, minutes=30),
            place="Vergaderzaal 2",
            online_url="https://meet.example/abc",
            audience=Audience(groups=("acme",), members=True),
            locale=None,
        )
        await outreach.team_sessions.add(session)
        announced = await outreach.materialiser.publish_now(
            org, What.SESSION, str(session.id), session.audience, None
        )
        assert announced.deliveries == 3
        worker = outreach.worker(WorkerConfig(rate_per_second=100, poll_interval=0.05))
        assert await worker.drain() == 3

        dm = "D" + PERSON[1:]
        message = slack_api.messages[dm][0]
        assert "Teamsessie van de vertrouwenspersoon" in message["text"]
        signup = button(message, SIGNUP_ACTION)
        assert signup["value"] == f"a:{session.id}|||nl"
        assert "Nog niemand aangemeld" in context_texts(message)
        ics_url = button(message, "vp_link_session_ics")["url"]

        async def post(body: tuple[bytes, str]) -> None:
            data, content_type = body
            url = str(server.make_url("/slack/events"))
            async with http.post(url, data=data, headers=signed_headers(data, content_type)) as response:
                assert response.status == 200

        # Count me in (twice: a double click counts once), from the DM.
        for _ in range(2):
            await post(block_action(PERSON, SIGNUP_ACTION, signup["value"], dm, message["ts"]))
        await eventually(lambda: len(slack_api.calls_to("chat.postEphemeral")) == 2)
        assert await outreach.team_sessions.count(org.id, session.id) == 1
        confirmation = slack_api.calls_to("chat.postEphemeral")[-1].params
        assert confirmation["user"] == PERSON
        assert "Je bent aangemeld voor 'Intervisie: grenzen aangeven'" in confirmation["text"]
        updated = slack_api.calls_to("chat.update")[-1].params
        assert (updated["channel"], updated["ts"]) == (dm, message["ts"])
        assert "1 persoon aangemeld" in json.dumps(updated["blocks"])
        assert PERSON not in json.dumps(updated["blocks"])  # the count, never a name

        # Someone else signs up from the channel post.
        channel_post = slack_api.messages["C0ALL"][0]
        await post(block_action(OTHER, SIGNUP_ACTION, f"a:{session.id}", "C0ALL", channel_post["ts"]))
        await eventually(lambda: len(slack_api.calls_to("chat.postEphemeral")) == 3)
        assert "2 mensen aangemeld" in json.dumps(slack_api.calls_to("chat.update")[-1].params["blocks"])

        # The first person withdraws with the button in their confirmation.
        withdraw = next(e for b in confirmation["blocks"] if b["type"] == "actions" for e in b["elements"])
        assert withdraw["action_id"] == WITHDRAW_ACTION
        await post(block_action(PERSON, WITHDRAW_ACTION, withdraw["value"], dm, "1700000000.000001"))
        await eventually(lambda: len(slack_api.calls_to("chat.postEphemeral")) == 4)
        assert "Je bent afgemeld" in slack_api.calls_to("chat.postEphemeral")[-1].params["text"]
        assert await outreach.team_sessions.count(org.id, session.id) == 1
        last_update = slack_api.calls_to("chat.update")[-1].params
        assert (last_update["channel"], last_update["ts"]) == (dm, message["ts"])  # the original post's count
        assert "1 persoon aangemeld" in json.dumps(last_update["blocks"])
        state = await outreach.team_sessions.state(org.id, session.id, f"slack:{DEFAULT_TEAM}:{OTHER}")
        assert state.signed_up
        assert not (
            await outreach.team_sessions.state(org.id, session.id, f"slack:{DEFAULT_TEAM}:{PERSON}")
        ).signed_up

        # The day-before reminder goes to the whole audience, with the current count.
        await outreach.materialiser.publish_now(
            org, What.SESSION_REMINDER, str(session.id), session.audience, None, send_at=clock.now()
        )
        assert await worker.drain() == 3
        reminder = slack_api.messages[dm][-1]
        assert "Morgen: teamsessie" in reminder["text"]
        assert "1 persoon aangemeld" in context_texts(reminder)

        # The .ics file.
        path = "/" + ics_url.split("/", 3)[3]
        async with http.get(str(server.make_url(path))) as response:
            assert response.status == 200
            assert response.content_type == "text/calendar"
            calendar = Calendar.from_ical(await response.read())
        event = next(iter(calendar.walk("VEVENT")))
        assert str(event["SUMMARY"]) == session.title
        assert event.decoded("DTSTART") == session.starts_at
        assert str(event["LOCATION"]) == "Vergaderzaal 2"
        async with http.get(str(server.make_url(f"/outreach/sessions/{uuid.uuid4()}.ics"))) as response:
            assert response.status == 404

        # The Home tab's calendar shows the session with its count.
        assert configured.session_calendar is not None
        upcoming = await configured.session_calendar.upcoming(org.id, clock.now(), 5)
        assert [(u.title.nl, u.signups) for u in upcoming] == [(session.title, 1)]
    finally:
        await http.close()
        await server.close()

    # Sign-ups are keyed hashes, per session: no platform user id, no timestamp, nothing to join on.
    async with session_factory(configured.engine)() as db:
        rows = (await db.exec(select(TeamSessionSignupRow))).all()
    assert len(rows) == 1
    assert set(TeamSessionSignupRow.model_fields) == {"session_id", "person"}
    hashed = outreach.team_sessions.person_key(session.id, f"slack:{DEFAULT_TEAM}:{OTHER}")
    assert rows[0].person == hashed
    assert OTHER not in hashed
    assert outreach.team_sessions.person_key(uuid.uuid4(), f"slack:{DEFAULT_TEAM}:{OTHER}") != hashed

"""Slack's door holds: junk is refused after the signature check without a traceback, every button the bot posts is
acknowledged, a click is acknowledged in time even when its write waits, and an Enterprise Grid user answers once
across the workspaces of one organisation."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.adapters import slack
from bot.adapters.slack import blocks
from bot.adapters.slack.pulses import pulse_blocks, register_pulse_actions, reminder_blocks
from bot.adapters.slack.render_sessions import session_blocks
from bot.adapters.slack.sessions import _confirmation
from bot.app import Services
from bot.domain.outreach import Audience
from bot.domain.pulses import (
    AnswerAction,
    AnswerOutcome,
    ClickOrigin,
    Participant,
    PulsePost,
    PulseReminderPost,
    PulseService,
)
from bot.domain.team_sessions import SignupState, TeamSession
from bot.domain.tenancy import GroupKind, Organisation
from bot.reporting import service as pulses_feature
from bot.reporting.service import Pulses
from bot.security.secret import Secret
from bot.storage.slack_installations import SqlSlackInstallations
from scheduler import service as outreach_feature
from tests.adapters.slack.support import (
    RunningService,
    add_org,
    eventually,
    slack_services,
    stop_service,
)
from tests.adapters.slack.test_blocks import _info
from tests.conftest import TEST_SECRET_KEY
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator

PULSE_SET = "wekelijkse-check-in"


@dataclass
class World:
    running: RunningService
    services: Services
    org: Organisation
    pulses: Pulses
    round_id: uuid.UUID
    question: str


@pytest.fixture
async def world(services: Services, slack_api: SlackApiSimulator) -> AsyncIterator[World]:
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    configured = Services(
        settings=configured.settings.model_copy(update={"scheduler_enabled": False}),
        clock=configured.clock,
        engine=configured.engine,
        content=configured.content,
    )
    people_and_channel(slack_api)
    org = await add_org(configured, "Acme Zorg", "acme")
    await SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        org.id, DEFAULT_TEAM
    )
    await configured.organisations.add_group(org.id, "Zorg", GroupKind.DEPARTMENT, None)
    running = await _start(configured)
    try:
        pulses: Pulses = configured.pulses
        tree = await configured.organisations.group_tree(org.id)
        round_ = await pulses.service.open_round(org.id, PULSE_SET, tree)
        question = next(
            q.id for q in pulses.service.pulse_set(PULSE_SET).questions if q.kind.value == "likert"
        )
        yield World(running, configured, org, pulses, round_.id, question)
    finally:
        await stop_service(running)


async def _start(services: Services) -> RunningService:
    from aiohttp.test_utils import TestServer

    from bot.app import build_app

    app = build_app(services, features=[slack.install, outreach_feature.install, pulses_feature.install])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    import aiohttp

    return RunningService(server=server, session=aiohttp.ClientSession(), services=services)


def people_and_channel(slack_api: SlackApiSimulator) -> None:
    slack_api.add_channel("C0GENERAL", "general")
    slack_api.channels["C0GENERAL"]["is_member"] = True
    for user in ("U0CLICK", "U0SLOW", "W0GRID"):
        slack_api.add_user(user)


def click_body(
    action_id: str,
    value: str | None,
    *,
    user: str = "U0CLICK",
    team: str = DEFAULT_TEAM,
    enterprise: str | None = None,
    channel: str = "C0GENERAL",
) -> tuple[bytes, str]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": user, "team_id": team},
        "api_app_id": "A0SIM",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "channel_id": channel,
            "message_ts": "1.000001",
            "is_ephemeral": False,
        },
        "channel": {"id": channel},
        "trigger_id": "1.2.3",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "type": "button",
                **({"value": value} if value is not None else {}),
                "text": {"type": "plain_text", "text": "x"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    if enterprise is not None:
        payload["enterprise"] = {"id": enterprise, "name": "Acme Holding"}
        payload["is_enterprise_install"] = False
    return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"


# -- junk before and after the signature -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"payload=%7B", "application/x-www-form-urlencoded"),
        (b"payload=1", "application/x-www-form-urlencoded"),
        (b"payload=\xff\xfe%7B%7D", "application/x-www-form-urlencoded"),
        (b"\xc3\x28{not json", "application/json"),
        (b"{", "application/json"),
    ],
    ids=["open-brace", "number", "invalid-utf8-form", "invalid-utf8-json", "broken-json"],
)
async def test_a_malformed_body_gets_400_after_the_signature_check_and_no_traceback(
    world: World, body: bytes, content_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    running = world.running
    with caplog.at_level(logging.DEBUG):
        unsigned = await running.session.post(
            f"{running.url}/slack/events", data=body, headers={"Content-Type": content_type}
        )
        assert unsigned.status == 401  # nothing of an unsigned body is even parsed
        signed = await running.post_signed((body, content_type))
        assert signed.status == 400
    assert not any(r.exc_info for r in caplog.records), "a malformed body must not log a traceback"
    assert "Traceback" not in caplog.text


# -- every button the bot posts is acknowledged -----------------------------------------------------------------


def _action_ids(node: object) -> Iterator[tuple[str, str | None]]:
    if isinstance(node, dict):
        if isinstance(node.get("action_id"), str):
            yield node["action_id"], node.get("value")
        for value in node.values():
            yield from _action_ids(value)
    elif isinstance(node, list):
        for item in node:
            yield from _action_ids(item)


def everything_the_bot_posts(world: World) -> list[object]:
    """Every kind of Block Kit the bot sends: replies, the Home tab, pulses, reminders, sessions, confirmations."""
    content = world.services.content
    t = content.translator
    portal = "http://vipbot.test/portal/acme"
    pulse_set = content.catalog.pulse_set(PULSE_SET)
    assert pulse_set is not None
    closes = datetime(2026, 3, 9, 17, 0, tzinfo=UTC)
    session = TeamSession(
        id=uuid.uuid4(),
        organisation_id=world.org.id,
        title="Intervisie",
        description="",
        starts_at=closes,
        ends_at=closes + timedelta(hours=1),
        place="Zaal 2",
        online_url="https://meet.example.nl/x",
        audience=Audience(groups=("zorg",)),
        locale="nl",
    )
    found: list[object] = []
    for locale in ("nl", "en"):
        found += [
            blocks.dm_reply(t, locale, portal)[0],
            blocks.help_reply(t, locale, portal)[0],
            blocks.door_reply(t, locale, portal)[0],
            blocks.social_map_reply(t, locale, content.catalog.social_map, portal)[0],
            blocks.home_view(t, locale, _info(content)),
            blocks.not_linked_view(t, locale),
            [
                b.to_dict()
                for b in pulse_blocks(t, PulsePost(world.round_id, pulse_set, closes, portal), locale)
            ],
            [
                b.to_dict()
                for b in reminder_blocks(
                    t, PulseReminderPost(world.round_id, pulse_set, closes, portal), locale
                )
            ],
        ]
        for reminder in (False, True):
            found.append(
                [b.to_dict() for b in session_blocks(t, session, 3, portal, locale, reminder=reminder)]
            )
            found.append(
                [
                    b.to_dict()
                    for b in _confirmation(
                        t, session, SignupState(True, 4), locale, reminder, "C0GENERAL", "1.000001"
                    )
                ]
            )
    return found


async def test_every_button_the_bot_posts_is_acknowledged(world: World) -> None:
    actions = dict(_action_ids(everything_the_bot_posts(world)))
    # The walk found the kinds of buttons there are (so a new kind is walked too, and this test cannot pass empty).
    prefixes = {a.split(":")[0].rstrip("0123456789_") for a in actions}
    assert {"vp_door_open", "vp-pulse", "vp-pulse-talk", "vp_link_session_ics"} <= prefixes | set(actions)
    refused = {}
    for action_id, value in actions.items():
        response = await world.running.post_signed(click_body(action_id, value))
        if response.status != 200:
            refused[action_id] = response.status
    assert refused == {}


async def test_the_calendar_button_of_a_session_posted_earlier_is_acknowledged(world: World) -> None:
    response = await world.running.post_signed(click_body("vip_session_ics", None))
    assert response.status == 200


# -- a click is acknowledged in time, and stored ----------------------------------------------------------------


class HeldPulseService(PulseService):
    """The real service, whose writes wait until the test lets them through (a burst queued behind a commit)."""

    def __init__(self, wrapped: PulseService, release: asyncio.Event) -> None:
        self.__dict__.update(wrapped.__dict__)
        self._release = release
        self.started = 0

    async def answer(
        self, organisation_id: uuid.UUID, action: AnswerAction, participant: Participant, origin: ClickOrigin
    ) -> AnswerOutcome:
        self.started += 1
        await self._release.wait()
        return await super().answer(organisation_id, action, participant, origin)


async def test_a_click_whose_write_waits_is_acknowledged_in_time_and_confirmed_once_stored(
    services: Services, slack_api: SlackApiSimulator
) -> None:
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    configured = Services(
        settings=configured.settings.model_copy(update={"scheduler_enabled": False}),
        clock=configured.clock,
        engine=configured.engine,
        content=configured.content,
    )
    people_and_channel(slack_api)
    org = await add_org(configured, "Acme Zorg", "acme")
    await SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        org.id, DEFAULT_TEAM
    )
    await configured.organisations.add_group(org.id, "Zorg", GroupKind.DEPARTMENT, None)
    running = await _start(configured)
    try:
        pulses: Pulses = configured.pulses
        round_ = await pulses.service.open_round(
            org.id, PULSE_SET, await configured.organisations.group_tree(org.id)
        )
        question = next(
            q.id for q in pulses.service.pulse_set(PULSE_SET).questions if q.kind.value == "likert"
        )
        release = asyncio.Event()
        held = HeldPulseService(pulses.service, release)
        # A second listener for the same buttons, registered first, with a short deadline: bolt runs the first
        # listener that matches, so the click goes through the held service.
        feature = configured.slack
        feature.bolt._async_listeners.clear()
        register_pulse_actions(
            feature.bolt, pulses.store, held, configured.content.translator, ack_deadline=0.05
        )
        action = AnswerAction(round_.id, question, "4")
        response = await running.post_signed(
            click_body(f"vp-pulse:{question}:4", action.encode(), user="U0SLOW")
        )
        # Slack got its 200 while the write was still waiting; nothing was confirmed yet.
        assert response.status == 200
        assert held.started == 1
        assert slack_api.ephemerals == []
        release.set()
        await eventually(lambda: len(slack_api.ephemerals) == 1)
        assert slack_api.ephemerals[0]["text"] == "Dank je wel. Je antwoord is anoniem opgeslagen."
    finally:
        await stop_service(running)


# -- Enterprise Grid: one person, one answer, whichever workspace -----------------------------------------------


async def test_an_enterprise_grid_user_answers_once_across_workspaces_of_one_organisation(
    world: World, slack_api: SlackApiSimulator
) -> None:
    second = "T0002"
    slack_api.add_workspace(second, "xoxb-second")
    await SqlSlackInstallations(world.services.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        world.org.id, second
    )
    value = AnswerAction(world.round_id, world.question, "2").encode()
    action_id = f"vp-pulse:{world.question}:2"
    for team in (DEFAULT_TEAM, second):
        response = await world.running.post_signed(
            click_body(action_id, value, user="W0GRID", team=team, enterprise="E0ACME")
        )
        assert response.status == 200
    await eventually(lambda: len(slack_api.ephemerals) == 2)
    first, again = slack_api.ephemerals
    assert first["text"] == "Dank je wel. Je antwoord is anoniem opgeslagen."
    assert "al beantwoord" in again["text"]


async def test_outside_a_grid_the_same_user_id_in_two_workspaces_is_two_people(
    world: World, slack_api: SlackApiSimulator
) -> None:
    second = "T0002"
    slack_api.add_workspace(second, "xoxb-second")
    await SqlSlackInstallations(world.services.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        world.org.id, second
    )
    value = AnswerAction(world.round_id, world.question, "2").encode()
    for team in (DEFAULT_TEAM, second):
        response = await world.running.post_signed(
            click_body(f"vp-pulse:{world.question}:2", value, team=team)
        )
        assert response.status == 200
    await eventually(lambda: len(slack_api.ephemerals) == 2)
    assert all(e["text"] == "Dank je wel. Je antwoord is anoniem opgeslagen." for e in slack_api.ephemerals)

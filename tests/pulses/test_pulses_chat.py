"""Pulses end to end on the real adapters: the round goes out through the outreach pipeline to Slack channels
(Web API simulator), people answer with one click (signed requests to /slack/events), a second click is refused,
the confirmation is ephemeral and never repeats the answer; after close the management summary arrives with its
chart in Slack and in Teams (Bot Framework connector double)."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.adapters import slack
from bot.adapters.teams import reference_store
from bot.adapters.teams.gateway import RetryPolicy, TeamsGateway
from bot.app import Services
from bot.domain.clock import FixedClock
from bot.domain.outreach import Audience, What
from bot.domain.pulses import AnswerAction, ClickOrigin, Participant
from bot.domain.tenancy import GroupKind, Platform
from bot.reporting import service as pulses_feature
from bot.reporting.service import monthly_due
from bot.storage.teams_references import TeamsReference, TeamsScope
from scheduler import service as outreach_feature
from scheduler.worker import WorkerConfig
from tests.adapters.slack.support import sqlite_file_bytes
from tests.doubles.bf_connector import BotConnectorDouble
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator
from tests.support.slack import (
    block_action,
    bot_channel,
    linked_org,
    slack_services,
    start_service,
    stop_service,
)
from tests.support.waiting import eventually

TENANT = "tenant-acme"
TEAMS_CHANNEL = "19:management@thread.tacv2"
CLICKER = "U0CANARY42"


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    found = [e for b in message.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]]
    return found + [b["accessory"] for b in message.get("blocks") or [] if "accessory" in b]


async def test_a_pulse_round_end_to_end(  # noqa: PLR0915  (one story, told in order)
    services: Services,
    slack_api: SlackApiSimulator,
    bf_connector: BotConnectorDouble,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configured = slack_services(services, slack_api, scheduler=False, slack_bot_token=DEFAULT_TOKEN)
    clock = configured.clock
    assert isinstance(clock, FixedClock)
    org = await linked_org(configured)
    await configured.organisations.add_group(org.id, "Zorg", GroupKind.DEPARTMENT, None)
    for slug, channel in (("noord", "C0NOORD"), ("zuid", "C0ZUID")):
        await configured.organisations.add_group(org.id, slug.title(), GroupKind.TEAM, "zorg")
        await configured.organisations.bind_channel(org.id, slug, Platform.SLACK, DEFAULT_TEAM, channel, slug)
        bot_channel(slack_api, channel, slug)
    slack_api.add_user(CLICKER)
    bot_channel(slack_api, "C0MGMT", "management")

    # Teams: the management channel's conversation reference, the real renderer and gateway on the double.
    store = reference_store(configured)
    await store.connect_tenant(org.id, TENANT)
    address = await store.save(
        org.id,
        TeamsReference(
            scope=TeamsScope.CHANNEL,
            tenant_id=TENANT,
            service_url=bf_connector.url,
            bot_id="28:bot",
            conversation_id=TEAMS_CHANNEL,
            team_id="19:team",
            team_name="Management",
            channel_name="General",
        ),
    )
    http = aiohttp.ClientSession()
    configured.platforms[Platform.TEAMS].gateway = TeamsGateway(
        store, http, None, RetryPolicy(attempts=2, base_delay=0.01)
    )

    running = await start_service(
        configured, [slack.install, outreach_feature.install, pulses_feature.install]
    )
    try:
        outreach, pulses = configured.outreach, configured.pulses
        assert outreach is not None
        assert pulses is not None
        await pulses.store.set_management_channel(org.id, Platform.SLACK, DEFAULT_TEAM, "C0MGMT")
        await pulses.store.set_management_channel(org.id, Platform.TEAMS, TENANT, address)

        # The round goes out to both team channels through the outreach pipeline: one round, two posts.
        published = await outreach.materialiser.publish_now(
            org, What.PULSE, "wekelijkse-check-in", Audience(groups=("noord", "zuid")), None
        )
        assert published.deliveries == 2
        assert await outreach.worker(WorkerConfig(rate_per_second=100, poll_interval=0.05)).drain() == 2
        (round_,) = await pulses.store.rounds(org.id, "wekelijkse-check-in")
        post = slack_api.messages["C0NOORD"][0]
        assert "Wekelijkse check-in" in post["text"]
        answer_buttons = [b for b in buttons(post) if b["action_id"].startswith("vp-pulse:")]
        assert len(answer_buttons) == 3 * 5 + 3  # three Likert questions, one with three options
        talk = next(b for b in buttons(post) if b["action_id"] == "vp-pulse-talk")
        assert talk["url"] == "http://vipbot.test/portal/acme"  # the door, the same for everybody
        assert "Ik wil graag praten" in json.dumps(talk)

        async def post_click(user: str, button: dict[str, Any], channel: str, ts: str) -> None:
            data, content_type = block_action(user, button["action_id"], button["value"], channel, ts)
            async with await running.post_signed((data, content_type)) as response:
                assert response.status == 200

        # One click answers; a second click by the same person is refused politely.
        first = next(b for b in answer_buttons if b["action_id"] == "vp-pulse:veilig-om-te-zeggen:2")
        await post_click(CLICKER, first, "C0NOORD", post["ts"])
        await eventually(lambda: len(slack_api.ephemerals) == 1)
        await post_click(CLICKER, first, "C0NOORD", post["ts"])
        await eventually(lambda: len(slack_api.ephemerals) == 2)
        thanks, refused = slack_api.ephemerals
        assert thanks["user"] == CLICKER
        assert thanks["channel"] == "C0NOORD"
        assert thanks["text"] == "Dank je wel. Je antwoord is anoniem opgeslagen."
        assert "al beantwoord" in refused["text"]
        assert "Oneens" not in json.dumps([thanks, refused])  # the answer is never repeated
        assert len(slack_api.calls_to("chat.postMessage")) == 2  # nothing else was posted, no DM

        # A reminder goes to the whole audience: both channels, whoever answered.
        reminded = await outreach.materialiser.publish_now(
            org, What.PULSE, "reminder:wekelijkse-check-in", Audience(groups=("noord", "zuid")), None
        )
        assert reminded.deliveries == 2
        assert await outreach.worker(WorkerConfig(rate_per_second=100, poll_interval=0.05)).drain() == 2
        for channel in ("C0NOORD", "C0ZUID"):
            assert "Herinnering: de check-in staat nog open" in slack_api.messages[channel][-1]["text"]

        # Enough people answer (the rest through the service, as the handler does) for the department to show.
        for i in range(11):
            for question in configured.content.catalog.pulse_set("wekelijkse-check-in").questions:  # type: ignore[union-attr]
                value = "goed" if question.kind.value == "choice" else "4"
                channel = "C0ZUID" if i < 8 else "C0NOORD"
                await pulses.service.answer(
                    org.id,
                    AnswerAction(round_.id, question.id, value),
                    Participant(Platform.SLACK, DEFAULT_TEAM, f"U{i:04d}"),
                    ClickOrigin(Platform.SLACK, DEFAULT_TEAM, channel),
                )

        # After the window the round closes; nothing is published before the month is over.
        clock.advance(timedelta(days=3, minutes=1))
        assert await pulses.tick() == []
        assert "C0MGMT" not in slack_api.messages
        # When March has ended, its rounds are pooled, released once (noise drawn and stored) and the overview
        # goes to management on Slack and Teams, with the chart.
        clock.set(datetime(2026, 4, 1, 0, 5, tzinfo=UTC))
        assert await pulses.tick() == [(org.id, "wekelijkse-check-in", "2026-03")]
        assert await pulses.tick() == []  # sent once
        summary = slack_api.messages["C0MGMT"][0]
        text = json.dumps(summary["blocks"], ensure_ascii=False)
        assert "Maandoverzicht check-in Wekelijkse check-in voor Acme Zorg" in summary["text"]
        # Noord has at most 4 respondents to a question: hidden. Zuid has 8: only a band. The department of 12
        # is shown with a margin, and a table per question.
        assert "Noord: verborgen" in text
        assert re.search(r"Zuid: tussen \d+ en \d+ % gunstig", text)
        assert re.search(r"Zorg: \d+ % gunstig, ± \d+", text)
        assert "vraag | gunstig | gemiddeld (van 5) | verdeling" in text
        uploads = slack_api.calls_to("files.completeUploadExternal")
        assert len(uploads) == 1
        assert uploads[0].params["channel_id"] == "C0MGMT"
        assert ".png" in json.dumps(uploads[0].params)

        (activity,) = bf_connector.activities(TEAMS_CHANNEL, kind="send")
        card = activity["attachments"][0]["content"]
        image = next(e for e in card["body"] if e["type"] == "Image")
        assert image["url"].startswith("data:image/png;base64,")
        assert base64.b64decode(image["url"].split(",", 1)[1]).startswith(b"\x89PNG")
        assert len(json.dumps(activity)) < 28_000  # fits in one Teams message
        card_text = json.dumps(card, ensure_ascii=False)
        assert "Noord: verborgen" in card_text

        # Nobody's id reached management, and the clicker's id went nowhere but the confirmation to them.
        assert CLICKER not in text
        assert CLICKER not in card_text
        assert CLICKER not in caplog.text
        if database_url.startswith("sqlite"):
            await configured.engine.dispose()
            assert CLICKER.encode() not in sqlite_file_bytes(database_url)

        # The release's own overview was this month's: no second one today. On the first of the next month the
        # latest overview goes out again (read from the stored release: nothing is drawn again).
        clock.set(datetime(2026, 4, 1, 7, 0, tzinfo=UTC))
        assert await monthly_due(pulses) == 0
        clock.set(datetime(2026, 5, 1, 7, 0, tzinfo=UTC))
        assert await monthly_due(pulses) == 1
        assert await monthly_due(pulses) == 0  # once a month, whichever replica asks
        titles = [m.get("text", "") for m in slack_api.messages["C0MGMT"]]
        assert (
            sum(t.startswith("Maandoverzicht check-in Wekelijkse check-in voor Acme Zorg") for t in titles)
            == 2
        )
        overviews = [
            m for m in slack_api.messages["C0MGMT"] if m.get("text", "").startswith("Maandoverzicht")
        ]
        assert json.dumps(overviews[-1]["blocks"], ensure_ascii=False) == text  # the same stored numbers
        assert len(slack_api.calls_to("files.completeUploadExternal")) == 2
        assert len(bf_connector.activities(TEAMS_CHANNEL, kind="send")) == 2
    finally:
        await http.close()
        await stop_service(running)

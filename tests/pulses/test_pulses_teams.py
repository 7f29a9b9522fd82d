"""Pulses on Teams: the card goes out through the real gateway to the connector double with one-click
Action.Submit buttons and the door; a submit records the answer, a second is refused, a personal-chat click gets
a thank-you card that never repeats the answer, and a channel click gets no reply at all."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from bot.adapters.teams import reference_store
from bot.adapters.teams.cards import CardKit, TeamsRenderer
from bot.adapters.teams.gateway import RetryPolicy, TeamsGateway
from bot.adapters.teams.pulses import TeamsPulseRenderer, answer_pulse_submit
from bot.app import Services
from bot.domain.delivery import Target, TargetKind
from bot.domain.pulses import PulsePost
from bot.domain.tenancy import Platform
from bot.storage.teams_references import TeamsReference, TeamsScope
from tests.doubles.bf_connector import BotConnectorDouble
from tests.pulses.conftest import PulseWorld

TENANT = "tenant-linde"
CHANNEL = "19:noord@thread.tacv2"


def submits(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for e in card["body"] if e["type"] == "ActionSet" for a in e["actions"]]


async def test_a_pulse_on_teams(
    world: PulseWorld, services: Services, bf_connector: BotConnectorDouble
) -> None:
    store = reference_store(services)
    await store.connect_tenant(world.org.id, TENANT)
    address = await store.save(
        world.org.id,
        TeamsReference(
            scope=TeamsScope.CHANNEL,
            tenant_id=TENANT,
            service_url=bf_connector.url,
            bot_id="28:bot",
            conversation_id=CHANNEL,
            team_id="19:team",
            team_name="Noord",
            channel_name="General",
        ),
    )
    await world.repo.bind_channel(world.org.id, "team-noord", Platform.TEAMS, TENANT, CHANNEL, "Noord")
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    t = services.content.translator
    renderer = TeamsPulseRenderer(TeamsRenderer(CardKit(t)), t)
    post = PulsePost(pulse.id, world.pulse_set, pulse.closes_at, "http://vipbot.test/portal/linde")
    async with aiohttp.ClientSession() as http:
        gateway = TeamsGateway(store, http, None, RetryPolicy(attempts=2, base_delay=0.01))
        await gateway.send(
            Target(Platform.TEAMS, TENANT, TargetKind.CHANNEL, address), renderer.render(post, "nl")
        )
    (activity,) = bf_connector.activities(CHANNEL, kind="send")
    card = activity["attachments"][0]["content"]
    buttons = submits(card)
    assert len(buttons) == 3 * 5 + 3
    assert card["actions"][0] == {
        "type": "Action.OpenUrl",
        "title": "Ik wil graag praten",
        "url": "http://vipbot.test/portal/linde",
        "style": "positive",
    }
    value = buttons[0]["data"]

    async def click(user: str, *, personal: bool) -> dict[str, Any] | None:
        return await answer_pulse_submit(
            value, world.org.id, TENANT, user, CHANNEL, personal, world.service, t, "nl"
        )

    # In a channel nothing is said back (no message only the clicker would see exists there).
    assert await click("29:person-a", personal=False) is None
    # In a personal chat the person's own copy becomes a thank-you, without the answer.
    thanks = await click("29:person-b", personal=True)
    assert thanks is not None
    assert "Dank je wel" in json.dumps(thanks, ensure_ascii=False)
    assert "Helemaal oneens" not in json.dumps(thanks, ensure_ascii=False)
    again = await click("29:person-b", personal=True)
    assert "al beantwoord" in json.dumps(again, ensure_ascii=False)

    await world.service.close_now(world.org.id, pulse.id)
    counts = await world.store.cell_counts(world.org.id, [pulse.id])
    noord = world.tree.by_slug("team-noord")
    assert noord is not None
    # The channel click counts for the channel's team, the personal-chat click for the round's audience.
    assert sorted((c.group_id == noord.id, c.answers) for c in counts) == [(False, 1), (True, 1)]

"""Microsoft's Agents Playground (npm `@microsoft/m365agentsplayground`), a Teams-like web client, driven in Chromium
against the running service: what the doubles cannot show (Microsoft's own card renderer, the order and shape of
the activities a Teams client really sends)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page

from bot.adapters import teams
from bot.adapters.teams import reference_store
from bot.app import Services
from bot.domain.outreach import Audience, What
from bot.domain.team_sessions import TeamSession
from bot.domain.tenancy import GroupKind, Platform
from bot.reporting import service as pulses_feature
from bot.reporting.service import Pulses
from bot.storage.teams_references import TeamsScope
from scheduler import service as outreach_feature
from scheduler.service import Outreach
from scheduler.worker import WorkerConfig
from tests.adapters.teams.support import connect, serving
from tests.doubles.card_check import node_tools
from tests.support.net import free_port, wait_for_http

pytestmark = pytest.mark.browser

PLAYGROUND_TENANT = "00000000-0000-0000-0000-0000000000001"  # what the Playground sends
ERROR_TEXTS = ("Er ging iets mis", "Something went wrong")


@asynccontextmanager
async def playground(bot_url: str, log: Path) -> AsyncIterator[str]:
    """The Playground's server on a free loopback port, pointed at the bot; yields its URL."""
    port = free_port()
    cli = node_tools() / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: ASYNC220  (a server process for the test's lifetime)
            ["node", str(cli), "-e", f"{bot_url}/api/messages", "-c", "msteams", "-p", str(port), "--dt"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=log.parent,  # it writes devTools/ into its working directory
        )
        try:
            await wait_for_http(f"http://127.0.0.1:{port}/", timeout=60)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            await asyncio.to_thread(process.wait, 20)


def pulses_of(services: Services) -> Pulses:
    pulses: Pulses = services.pulses
    return pulses


async def say(page: Page, text: str) -> None:
    """Type into the compose box (a rich-text editor) and send."""
    box = page.locator("[data-lexical-editor=true]")
    await box.click()
    await page.keyboard.type(text)
    await page.keyboard.press("Enter")


async def no_error_shown(page: Page) -> None:
    for text in ERROR_TEXTS:
        assert await page.get_by_text(text).count() == 0, text


async def test_the_playground_shows_the_welcome_and_the_door(
    services: Services, page: Page, tmp_path: Path
) -> None:
    """The Playground installs the bot in its personal chat when it opens (installationUpdate and
    conversationUpdate together, in English), then the person types something."""
    services = Services(
        settings=services.settings.model_copy(update={"scheduler_enabled": False}),
        clock=services.clock,
        engine=services.engine,
        content=services.content,
    )
    org = await connect(services, tenant=PLAYGROUND_TENANT)
    await services.organisations.add_group(org.id, "Zorg Noord", GroupKind.DEPARTMENT, None)
    await services.organisations.add_group(org.id, "Team Noord", GroupKind.TEAM, "zorg-noord")
    features = [teams.install, outreach_feature.install, pulses_feature.install]
    async with (
        serving(services, features) as (server, _),
        playground(str(server.make_url("")).rstrip("/"), tmp_path / "playground.log") as client,
    ):
        page.set_default_timeout(
            60_000
        )  # the Playground is a large web app; a busy 2-core machine loads it slowly
        await page.goto(client)
        await page.get_by_text("This is where you find the confidential counsellor").first.wait_for()
        await say(page, "hallo, ik wil iets kwijt")
        await page.get_by_text("I do not keep, read or forward what you type here").first.wait_for()
        await no_error_shown(page)
        # Opening a channel installs the bot in the team: the channel greeting.
        await page.get_by_text("General").first.click()
        await page.get_by_text("columns en herinneringen").first.wait_for()
        await no_error_shown(page)

        # A team session and a pulse are posted to the channel (bound to a group) through the outreach pipeline.
        (channel,) = await reference_store(services).list_references(org.id, TeamsScope.CHANNEL)
        await services.organisations.bind_channel(
            org.id, "team-noord", Platform.TEAMS, PLAYGROUND_TENANT, channel.address, "General"
        )
        outreach: Outreach = services.outreach
        starts = services.clock.now() + timedelta(days=2)
        session = TeamSession(
            id=uuid.uuid4(),
            organisation_id=org.id,
            title="Teamoverleg <respect> & *grenzen*",
            description="",
            starts_at=starts,
            ends_at=starts + timedelta(minutes=45),
            place="Zaal 2",
            online_url=None,
            audience=Audience(groups=("team-noord",), members=False, platforms=(Platform.TEAMS,)),
            locale="nl",
        )
        await outreach.team_sessions.add(session)
        await outreach.materialiser.publish_now(org, What.SESSION, str(session.id), session.audience, "nl")
        await outreach.materialiser.publish_now(
            org, What.PULSE, "wekelijkse-check-in", Audience(groups=("team-noord",), members=False), "nl"
        )
        assert await outreach.worker(WorkerConfig(rate_per_second=100, poll_interval=0.05)).drain() == 2

        # The session's title shows whole, angle brackets and all; "count me in" shows the person their sign-up.
        # (the invisible word joiner after "<" and "&" is part of the text, not of what the reader sees)
        await page.get_by_text(
            re.compile("Teamoverleg <\u2060?respect> &\u2060? \\*grenzen\\*")
        ).first.wait_for()
        await page.get_by_role("button", name="Ik doe mee").first.click()
        await page.get_by_text("Je bent aangemeld voor", exact=False).first.wait_for()
        assert await outreach.team_sessions.count(org.id, session.id) == 1
        await no_error_shown(page)

        # A pulse answer is recorded; the card stays as it was.
        buttons = page.get_by_role("button", name="4", exact=True)
        before = await buttons.count()
        await buttons.first.click()
        await (
            page.get_by_text("invoke 200").nth(1).wait_for()
        )  # the Playground's log: the bot answered the click
        assert await buttons.count() == before
        pulses = pulses_of(services)
        (round_,) = await pulses.store.rounds(org.id, "wekelijkse-check-in")
        await pulses.service.close_now(org.id, round_.id)
        assert sum(cell.answers for cell in await pulses.store.cell_counts(org.id, [round_.id])) == 1
        await no_error_shown(page)
        assert page.errors == []  # type: ignore[attr-defined]

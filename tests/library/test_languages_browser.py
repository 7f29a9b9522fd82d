"""In Chromium: a counsellor binds a channel with the picker (Slack's own list, through the Slack Web API double),
writes a column in Dutch only and sees "Engels ontbreekt" beside each empty English field; the column then reaches
a member whose Slack is in English — in Dutch, through the same double."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Page, expect

from bot.adapters.slack.channels import SlackChannelDirectory
from bot.adapters.slack.gateway import SlackClients, SlackGateway
from bot.adapters.slack.members import MemberPolicy, SlackMemberSync
from bot.adapters.slack.oauth import StaticToken
from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.outreach import Audience, What
from bot.domain.tenancy import Organisation, Platform
from bot.security import totp_code
from bot.security.secret import Secret
from bot.storage.members import SqlMemberSource
from bot.storage.slack_installations import SqlSlackInstallations
from bot.web.console.outreach_bridge import outreach_of, publish
from scheduler.worker import OutboxWorker, PlatformDelivery, WorkerConfig
from tests.conftest import TEST_SECRET_KEY
from tests.console.helpers import PASSWORD, make_person
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator

pytestmark = pytest.mark.browser


async def test_a_dutch_only_column_reaches_an_english_reader_in_dutch(  # noqa: PLR0915
    page: Page,
    live_url: str,
    console_services: Services,
    clock: FixedClock,
    org_a: Organisation,
    slack_api: SlackApiSimulator,
) -> None:
    services = console_services
    slack_api.add_workspace(DEFAULT_TEAM, DEFAULT_TOKEN, team_name="Zorggroep De Linde (Slack)")
    slack_api.add_channel("C0WIJK3", "wijkteam-3")
    slack_api.add_user("UENGLISH", locale="en-GB")
    installations = SqlSlackInstallations(services.sessions, Secret(TEST_SECRET_KEY.encode()))
    await installations.link(org_a.id, DEFAULT_TEAM)
    tokens = StaticToken(Secret(DEFAULT_TOKEN))
    services.platforms[Platform.SLACK].channels = SlackChannelDirectory(slack_api.api_url, tokens)
    vera = await make_person(services, Role.COUNSELLOR, "vera@praktijk.test", org_a.id)
    assert vera.totp is not None

    await page.goto(live_url + "/console/login")
    await page.fill("#email", vera.email)
    await page.fill("#password", PASSWORD)
    await page.click("main button[type=submit]")
    await page.fill("#code", totp_code(vera.totp, clock.now().timestamp()))
    await page.click("main button[type=submit]")
    clock.advance(timedelta(seconds=30))

    # the organisation page names the workspace and offers Slack's own channels
    await page.goto(live_url + "/console/o/de-linde")
    await expect(page.locator("main")).to_contain_text("Zorggroep De Linde (Slack)")
    await page.select_option("#p-group", label="Zorggroep De Linde")
    await page.select_option("#p-channel", label="#wijkteam-3")
    await page.click("form:has(#p-channel) button[type=submit]")
    await expect(page.locator("table")).to_contain_text("wijkteam-3")
    [binding] = await services.organisations.bindings(org_a.id)
    assert (binding.workspace_id, binding.channel_id, binding.channel_name) == (
        DEFAULT_TEAM,
        "C0WIJK3",
        "wijkteam-3",
    )

    # a column in Dutch only: the English fields say they are missing, and stay empty
    await page.goto(live_url + "/console/o/de-linde/content/new?kind=column")
    await page.fill("#title_nl", "Grenzen aangeven")
    await page.fill("#summary_nl", "Hoe zeg je nee?")
    await page.fill("#body_nl", "Nee zeggen mag.")
    await expect(page.locator("[data-missing-for=title_en]")).to_be_visible()
    await page.fill("#title_en", "Setting boundaries")  # typed, then thought better of
    await expect(page.locator("[data-missing-for=title_en]")).to_be_hidden()
    await page.fill("#title_en", "")
    await expect(page.locator("[data-missing-for=title_en]")).to_be_visible()
    await page.click("#editor button[type=submit]")
    await expect(page.locator(".flash.ok")).to_contain_text("Opgeslagen")
    for field in ("title_en", "summary_en", "body_en"):
        await expect(page.locator(f"[data-missing-for={field}]")).to_contain_text("Engels ontbreekt")
        await expect(page.locator(f"#{field}")).to_have_value("")
    item_id = "own:" + page.url.split("?")[0].rsplit("/", 1)[1]
    await page.click("nav.main >> text=Inhoud")
    await expect(page.locator("main table")).to_contain_text("Engels ontbreekt")
    assert page.errors == []  # type: ignore[attr-defined]

    # the English member reads it — in Dutch
    sync = SlackMemberSync(
        SlackClients(slack_api.api_url, tokens),
        SqlMemberSource(services.engine),
        installations,
        services.clock,
        MemberPolicy(),
        timedelta(hours=12),
    )
    await sync.sync_workspace(org_a.id, DEFAULT_TEAM)
    await publish(services, org_a, What.COLUMN, item_id, Audience(members=True, platforms=(Platform.SLACK,)))
    outreach = outreach_of(services)
    worker = OutboxWorker(
        outreach.outbox,
        {
            Platform.SLACK: PlatformDelivery(
                services.platforms[Platform.SLACK].renderers,
                SlackGateway(SlackClients(slack_api.api_url, tokens)),
            )
        },
        outreach.posts,
        services.clock,
        members=outreach.members,
        config=WorkerConfig(rate_per_second=1000),
    )
    assert await worker.drain() >= 1
    [message] = slack_api.messages[slack_api.dm_channel("UENGLISH")]
    assert str(message["text"]).startswith("Grenzen aangeven")
    assert "Nee zeggen mag." in str(message["blocks"])
    assert "The counsellor's column" in str(message["blocks"])  # the reader's own language around it

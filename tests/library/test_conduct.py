"""An organisation's own code of conduct: linked (https address) or uploaded (a PDF vipbot serves without sign-in
at an unguessable address), and linked from reminders, Slack's Home tab and the Teams welcome — seen through the
Slack Web API double and the Bot Connector double."""

from __future__ import annotations

import json
import uuid

import aiohttp
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from bot.adapters.slack.gateway import SlackClients, SlackGateway
from bot.adapters.slack.oauth import StaticToken
from bot.adapters.teams import reference_store
from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.delivery import ReminderPost
from bot.domain.outreach import Audience, Occurrence, What
from bot.domain.tenancy import Organisation, Platform
from bot.security.secret import Secret
from bot.storage.library import SqlConduct
from bot.storage.slack_installations import SqlSlackInstallations
from bot.web.console.outreach_bridge import outreach_of, publish
from scheduler.worker import OutboxWorker, PlatformDelivery, WorkerConfig
from tests.adapters.slack.support import event_body, eventually, slack_services, start_service, stop_service
from tests.adapters.teams.support import (
    BOT_ID,
    PERSONAL_CHAT,
    activity,
    card_text,
    cards_of,
    connect,
    open_urls,
)
from tests.adapters.teams.support import running as running_teams
from tests.conftest import TEST_SECRET_KEY
from tests.console.helpers import csrf_from, make_person, sign_in
from tests.doubles.bf_connector import BotConnectorDouble
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator

PDF = b"%PDF-1.4\n% gedragscode van De Linde\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


async def _upload(client: TestClient, csrf: str, data: bytes, name: str) -> str:
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("document", data, filename=name, content_type="application/pdf")
    answer = await client.post("/console/o/de-linde/conduct/upload", data=form, allow_redirects=False)
    assert answer.status == 303
    return answer.headers["Location"]


async def test_a_code_of_conduct_is_linked_or_uploaded_and_served(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)
    page = await (await client.get("/console/o/de-linde/content")).text()
    assert "Nog geen gedragscode gekoppeld." in page
    csrf = csrf_from(page)

    refused = await client.post(
        "/console/o/de-linde/conduct",
        data={"csrf_token": csrf, "url": "http://intranet/code"},
        allow_redirects=False,
    )
    assert "conduct_problem=url" in refused.headers["Location"]
    assert "begint met https://" in await (await client.get(refused.headers["Location"])).text()
    saved = await client.post(
        "/console/o/de-linde/conduct",
        data={"csrf_token": csrf, "url": "https://intranet.linde.test/gedragscode"},
        allow_redirects=False,
    )
    assert "conduct_saved" in saved.headers["Location"]
    conduct = await SqlConduct(console_services.sessions).get(org_a.id)
    assert conduct is not None
    assert conduct.link("http://vipbot.test") == "https://intranet.linde.test/gedragscode"

    assert "conduct_problem=not_pdf" in await _upload(client, csrf, b"<html>no</html>", "code.pdf")
    assert "conduct_saved" in await _upload(client, csrf, PDF, "Gedragscode De Linde.pdf")
    page = await (await client.get("/console/o/de-linde/content")).text()
    assert "Geüpload: Gedragscode De Linde.pdf" in page, page[
        page.find("h-conduct") : page.find("h-conduct") + 900
    ]
    conduct = await SqlConduct(console_services.sessions).get(org_a.id)
    assert conduct is not None
    link = conduct.link("http://vipbot.test")
    assert link is not None
    path = link.removeprefix("http://vipbot.test")
    assert path.startswith("/conduct/")
    assert len(conduct.token) >= 32  # not guessable from the organisation's name

    # served without sign-in, as a PDF that cannot run anything in the vipbot origin
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(str(client.make_url(path))) as served:
            assert served.status == 200
            assert served.content_type == "application/pdf"
            assert served.headers["Content-Security-Policy"] == "sandbox"
            assert await served.read() == PDF
        async with anonymous.get(str(client.make_url("/conduct/not-a-token.pdf"))) as missing:
            assert missing.status == 404


async def test_reminders_link_the_code_of_conduct_through_the_slack_double(
    console_services: Services, org_a: Organisation, slack_api: SlackApiSimulator
) -> None:
    services = console_services
    await services.organisations.bind_channel(
        org_a.id, "de-linde", Platform.SLACK, DEFAULT_TEAM, "C-ALL", "algemeen"
    )
    slack_api.add_channel("C-ALL", "algemeen")
    await SqlConduct(services.sessions).set_url(
        org_a.id, "https://intranet.linde.test/gedragscode", services.clock.now()
    )
    reminder = services.content.catalog.reminders[0]
    outreach = outreach_of(services)
    await publish(services, org_a, What.REMINDER, reminder.id, Audience(groups=("de-linde",)))
    clients = SlackClients(slack_api.api_url, StaticToken(Secret(DEFAULT_TOKEN)))
    worker = OutboxWorker(
        outreach.outbox,
        {
            Platform.SLACK: PlatformDelivery(
                services.platforms[Platform.SLACK].renderers, SlackGateway(clients)
            )
        },
        outreach.posts,
        services.clock,
        config=WorkerConfig(rate_per_second=1000),
    )
    assert await worker.drain() == 1
    [message] = slack_api.messages["C-ALL"]
    dumped = json.dumps(message["blocks"], ensure_ascii=False)
    assert "https://intranet.linde.test/gedragscode" in dumped
    assert "Lees de gedragscode" in dumped

    # without a code of conduct the reminder carries no such link
    await SqlConduct(services.sessions).clear(org_a.id)
    occurrence = Occurrence(
        uuid.uuid4(),
        org_a.id,
        None,
        services.clock.now(),
        services.clock.now(),
        What.REMINDER,
        reminder.id,
        "nl",
    )
    post = await outreach.posts.build(occurrence)
    assert isinstance(post, ReminderPost)
    assert post.conduct_url is None


async def test_the_slack_home_tab_links_the_code_of_conduct(
    services: Services, slack_api: SlackApiSimulator
) -> None:
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    organisation = await configured.organisations.add_organisation(
        "Acme Zorg", "acme", "Europe/Amsterdam", "nl", 90
    )
    await SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        organisation.id, DEFAULT_TEAM
    )
    await SqlConduct(configured.sessions).set_document(
        organisation.id, PDF, "code.pdf", configured.clock.now()
    )
    conduct = await SqlConduct(configured.sessions).get(organisation.id)
    assert conduct is not None
    slack_api.add_user("UNL", locale="nl-NL")
    running = await start_service(configured)
    try:
        await running.post_signed(
            event_body(
                DEFAULT_TEAM, {"type": "app_home_opened", "user": "UNL", "channel": "DNL", "tab": "home"}
            )
        )
        await eventually(lambda: "UNL" in slack_api.views)
    finally:
        await stop_service(running)
    dumped = json.dumps(slack_api.views["UNL"], ensure_ascii=False)
    assert f"http://vipbot.test/conduct/{conduct.token}.pdf" in dumped
    assert "De afspraken van Acme Zorg over hoe we met elkaar omgaan." in dumped


async def test_the_teams_welcome_links_the_code_of_conduct(
    services: Services, bf_connector: BotConnectorDouble
) -> None:
    org = await connect(services)
    await SqlConduct(services.sessions).set_url(
        org.id, "https://intranet.zorg.test/code", services.clock.now()
    )
    async with running_teams(services) as base, aiohttp.ClientSession() as http:
        added = activity(bf_connector.url, "conversationUpdate", membersAdded=[{"id": BOT_ID}])
        async with http.post(f"{base}/api/messages", json=added) as response:
            assert response.status in {200, 201, 202}
    [welcome] = cards_of(bf_connector.activities(PERSONAL_CHAT))
    assert "https://intranet.zorg.test/code" in open_urls(welcome)
    assert "Gedragscode" in card_text(welcome)
    assert reference_store(services) is not None

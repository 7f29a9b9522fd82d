"""A whole conversation in real Chromium, with the whole service running — and the canary hunt.

An employee starts anonymously in the portal, the counsellor signs in to the console, unlocks the inbox with
the passphrase and replies, the employee comes back in a fresh browser with the receipt code, reads the reply
and erases the conversation. Meanwhile a canary string is written in the portal (and typed into the Slack
DM and the Teams chat); it must be nowhere in the database files, the logs, or the traffic to the Slack
simulator and the Teams connector double. Message rows hold ciphertext only.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import text

from bot.app import Services, build_app
from bot.domain.accounts import Role
from bot.logs import configure_logging
from bot.security import Secret, totp_code
from bot.security.hpke import SEAL_OVERHEAD
from bot.storage.slack_installations import SqlSlackInstallations
from bot.web.portal.limits import PortalLimits
from tests.adapters.slack.support import (
    event_body,
    eventually,
    signed_headers,
    slack_services,
    sqlite_file_bytes,
)
from tests.adapters.teams.support import TENANT, activity, cards_of, connect, open_urls
from tests.conftest import TEST_SECRET_KEY
from tests.console.helpers import make_person
from tests.doubles.bf_connector import BotConnectorDouble, bf_connector  # noqa: F401 - fixture
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator, slack_api  # noqa: F401
from tests.support.browser import browser, serve_app  # noqa: F401 - fixture

pytestmark = pytest.mark.browser

PASSPHRASE = "lange wachtwoordzin van de vertrouwenspersoon"
PASSWORD = "correct horse battery staple"


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


async def database_dump(services: Services) -> str:
    async with services.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: sync.dialect.get_table_names(sync))
        parts = []
        for table in tables:
            rows = (await connection.execute(text(f'SELECT * FROM "{table}"'))).all()  # noqa: S608
            parts.append(f"{table}: {rows!r}")
    return "\n".join(parts)


async def new_page(browser: Browser) -> Page:  # noqa: F811
    context = await browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam")
    context.set_default_timeout(20_000)
    return await context.new_page()


async def test_a_whole_conversation_in_the_browser_and_the_canary_is_nowhere(  # noqa: PLR0915
    services: Services,
    database_url: str,
    browser: Browser,  # noqa: F811
    slack_api: SlackApiSimulator,  # noqa: F811
    bf_connector: BotConnectorDouble,  # noqa: F811
) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    reply_canary = f"REPLY-{uuid.uuid4().hex}"
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    org = await connect(configured, TENANT, slug="de-linde")
    await SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        org.id, DEFAULT_TEAM
    )
    slack_api.add_user("UNL", locale="nl-NL")
    person = await make_person(configured, Role.COUNSELLOR, "mira@vp.test", org.id, password=PASSWORD)
    from bot.security import INSECURE_TEST_ARGON2_PARAMS
    from bot.web.console import install as console_install
    from bot.web.portal.channel import ConfidentialChannel
    from bot.web.portal.routes import build_portal_app

    channel = ConfidentialChannel(
        configured.engine, configured.settings, configured.clock, argon2=INSECURE_TEST_ARGON2_PARAMS
    )
    counsellor_id = await channel.add_counsellor(org.id, "Mira", "mira@vp.test", Secret(PASSPHRASE))
    assert counsellor_id == person.account.counsellor_id  # the key went to the console account's counsellor

    from bot.adapters import slack, teams

    def portal(app: aiohttp.web.Application, svc: Services) -> None:
        app.add_subapp("/portal", build_portal_app(svc, PortalLimits(pow_bits=8)))

    app = build_app(configured, [console_install, slack.install, teams.install, portal])
    with captured_logs() as logs:
        async with serve_app(app) as base:
            # -- the employee starts anonymously ------------------------------------------------------------
            employee = await new_page(browser)
            errors: list[str] = []
            employee.on("pageerror", lambda e: errors.append(str(e)))
            await employee.goto(f"{base}/portal/de-linde")
            await expect(employee.get_by_role("heading", name="Wie ziet wat?")).to_be_visible()
            await employee.get_by_role("link", name="Begin een gesprek").click()
            await employee.get_by_label("Anoniem").check()
            await employee.get_by_label("Wat wil je bespreken?").fill(f"Mijn collega zegt steeds {canary}.")
            await employee.get_by_role("button", name="Verstuur en maak mijn code").click()
            code_box = employee.locator("#receipt-code")
            await expect(code_box).to_be_visible()
            code = (await code_box.inner_text()).strip()
            assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){4}", code)
            await employee.get_by_role("link", name="Ik heb mijn code bewaard, ga naar het gesprek").click()
            await expect(employee.locator(".thread")).to_contain_text(canary)
            user_agent = str(await employee.evaluate("navigator.userAgent"))
            assert "Chrome/" in user_agent
            await employee.context.close()

            # -- the counsellor signs in, unlocks and replies --------------------------------------------------
            counsellor = await new_page(browser)
            await counsellor.goto(f"{base}/console/login")
            await counsellor.locator("#email").fill(person.email)
            await counsellor.locator("#password").fill(PASSWORD)
            await counsellor.locator("button[type=submit]").click()
            assert person.totp is not None
            await counsellor.locator("#code").fill(totp_code(person.totp, configured.clock.now().timestamp()))
            await counsellor.locator("button[type=submit]").click()
            await counsellor.wait_for_url(re.compile(r".*/console/(?!login).*"))
            await counsellor.goto(f"{base}/console/o/de-linde/inbox")
            await counsellor.get_by_label("Wachtwoordzin").fill("niet de goede wachtwoordzin")
            await counsellor.get_by_role("button", name="Ontgrendelen").click()
            await expect(counsellor.get_by_role("alert")).to_contain_text("opent je sleutel niet")
            await counsellor.get_by_label("Wachtwoordzin").fill(PASSPHRASE)
            await counsellor.get_by_role("button", name="Ontgrendelen").click()
            await counsellor.get_by_role("link", name=re.compile("Gesprek van")).click()
            await expect(counsellor.locator(".thread")).to_contain_text(canary)
            await counsellor.get_by_label("Je antwoord").fill(f"Dank je. {reply_canary}")
            await counsellor.get_by_role("button", name="Antwoord versleuteld versturen").click()
            await expect(counsellor.locator(".thread")).to_contain_text(reply_canary)

            # -- the canary hunt, while the conversation exists --------------------------------------------
            async with aiohttp.ClientSession() as http:
                body, kind = event_body(
                    DEFAULT_TEAM,
                    {
                        "type": "message",
                        "channel": "DNL",
                        "channel_type": "im",
                        "user": "UNL",
                        "text": canary,
                        "ts": "1.1",
                    },
                )
                async with http.post(
                    f"{base}/slack/events", data=body, headers=signed_headers(body, kind)
                ) as r:
                    assert r.status == 200
                await eventually(lambda: bool(slack_api.messages.get("DNL")))
                typed = activity(bf_connector.url, "message", text=canary)
                async with http.post(f"{base}/api/messages", json=typed) as r:
                    assert r.status in {200, 201, 202}
            door_urls = [url for card in cards_of(bf_connector.activities()) for url in open_urls(card)]
            assert door_urls  # the Teams door answered, with a link to this organisation's portal
            assert {url.rsplit("/portal/", 1)[1] for url in door_urls} == {"de-linde"}
            assert slack_api.calls  # and to Slack
            for needle in (canary, reply_canary, code, code.replace("-", "")):
                assert not slack_api.traffic_contains(needle)
                assert needle.encode() not in bf_connector.raw_traffic()
            dump = await database_dump(configured)
            assert "de-linde" in dump  # the dump holds the database
            for needle in (canary, reply_canary, code, code.replace("-", "")):
                assert needle not in dump
            # DESIGN 4.4: no IP address or user agent is kept (the browsers came from 127.0.0.1)
            for needle in ("127.0.0.1", user_agent, "HeadlessChrome"):
                assert needle not in dump, needle
            if database_url.startswith("sqlite"):
                raw = sqlite_file_bytes(database_url)
                assert b"de-linde" in raw  # the search can find what is there
                for needle in (canary, reply_canary, code.replace("-", ""), "127.0.0.1", user_agent):
                    assert needle.encode() not in raw
                    assert needle.encode("utf-16-le") not in raw
            async with configured.engine.connect() as connection:
                blobs = (
                    (await connection.execute(text("SELECT ciphertext FROM conversation_message")))
                    .scalars()
                    .all()
                )
            assert len(blobs) == 2
            assert all(blob[0] == 1 and len(blob) > SEAL_OVERHEAD for blob in blobs)

            # -- the employee returns in a fresh browser, reads the reply and erases ----------------------
            back = await new_page(browser)
            back.on("pageerror", lambda e: errors.append(str(e)))
            await back.goto(f"{base}/portal/de-linde/return")
            await back.get_by_label("Je code").fill("0000-0000-0000-0000-0000")
            await back.get_by_role("button", name="Open mijn gesprek").click()
            await expect(back.get_by_role("alert")).to_contain_text("vinden we geen gesprek")
            await back.get_by_label("Je code").fill(code.lower().replace("-", " "))
            await back.get_by_role("button", name="Open mijn gesprek").click()
            await expect(back.locator(".thread")).to_contain_text(reply_canary)
            await back.get_by_role("link", name="Gesprek wissen").click()
            await back.get_by_label("Ja, wis dit gesprek definitief").check()
            await back.get_by_role("button", name="Wis het gesprek").click()
            await expect(back.get_by_role("heading", name="Je gesprek is gewist")).to_be_visible()

            await counsellor.goto(f"{base}/console/o/de-linde/inbox")
            await expect(counsellor.get_by_text("Er zijn nog geen gesprekken.")).to_be_visible()
            assert errors == []
        logging.getLogger("bot.test").info("log capture works")
    log_text = logs.getvalue()
    assert "log capture works" in log_text
    for needle in (canary, reply_canary, code, code.replace("-", ""), PASSPHRASE):
        assert needle not in log_text
    async with configured.engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM conversation_message"))).scalar_one() == 0
        assert (await connection.execute(text("SELECT count(*) FROM conversation"))).scalar_one() == 0
        assert (
            await connection.execute(text("SELECT count(*) FROM conversation_classification"))
        ).scalar_one() == 1


async def test_the_portal_works_without_javascript_on_a_phone_and_the_door_leads_there(
    services: Services,
    browser: Browser,  # noqa: F811
    slack_api: SlackApiSimulator,  # noqa: F811
) -> None:
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    org = await configured.organisations.add_organisation(
        "Zorggroep De Linde", "de-linde", "Europe/Amsterdam", "nl", 90
    )
    await SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        org.id, DEFAULT_TEAM
    )
    slack_api.add_user("UNL", locale="nl-NL")
    from bot.adapters import slack
    from bot.security import INSECURE_TEST_ARGON2_PARAMS
    from bot.web.portal.channel import ConfidentialChannel
    from bot.web.portal.routes import build_portal_app

    channel = ConfidentialChannel(
        configured.engine, configured.settings, configured.clock, argon2=INSECURE_TEST_ARGON2_PARAMS
    )
    await channel.add_counsellor(org.id, "Mira", None, Secret(PASSPHRASE))

    def portal(app: aiohttp.web.Application, svc: Services) -> None:
        app.add_subapp("/portal", build_portal_app(svc, PortalLimits(pow_bits=8)))

    async with (
        serve_app(build_app(configured, [slack.install, portal])) as base,
        aiohttp.ClientSession() as http,
    ):
        # The Slack door's link is the organisation's portal.
        body, kind = event_body(
            DEFAULT_TEAM,
            {
                "type": "message",
                "channel": "DNL",
                "channel_type": "im",
                "user": "UNL",
                "text": "hoi",
                "ts": "1.2",
            },
        )
        async with http.post(f"{base}/slack/events", data=body, headers=signed_headers(body, kind)) as r:
            assert r.status == 200
        await eventually(lambda: bool(slack_api.messages.get("DNL")))
        links = re.findall(r"https?://[^\s\"'>]+/portal/[a-z0-9-]+", str(slack_api.messages["DNL"]))
        assert links
        assert {link.rsplit("/portal/", 1)[1] for link in links} == {"de-linde"}

        context = await browser.new_context(
            java_script_enabled=False,
            viewport={"width": 360, "height": 740},
            is_mobile=True,
            has_touch=True,
            locale="en-GB",
        )
        phone = await context.new_page()
        await phone.goto(f"{base}/portal/de-linde?lang=en")
        await expect(phone.get_by_role("heading", name="Who sees what?")).to_be_visible()
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 360
        await phone.get_by_role("link", name="Start a conversation").click()
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 360
        await phone.get_by_label("With your name or contact details").check()
        await phone.get_by_label("Name or how you would like to be reached (optional)").fill(
            "Sam, 06-12345678"
        )
        await phone.get_by_label("What would you like to talk about?").fill("Workload is getting too much.")
        await phone.get_by_role("button", name="Send and create my code").click()
        await expect(phone.locator("#receipt-code")).to_be_visible()
        await phone.get_by_role("link", name="I have kept my code, go to the conversation").click()
        await expect(phone.locator(".thread")).to_contain_text("Sam, 06-12345678")
        await phone.get_by_label("Write a message").fill("And one more thing.")
        await phone.get_by_role("button", name="Send").click()
        await expect(phone.get_by_role("status")).to_contain_text("Your message was sent encrypted.")
        await expect(phone.locator(".thread li")).to_have_count(3)
        await context.close()

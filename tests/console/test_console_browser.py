"""The console in real Chromium: from the first administrator to a counsellor's column with its previews."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from datetime import timedelta

import pytest
from playwright.async_api import Page, expect
from pypdf import PdfReader

from bot.app import Services
from bot.domain.clock import FixedClock
from bot.security import Secret, totp_code
from bot.settings import Settings

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "admin password for the browser test"
COUNSELLOR_PASSWORD = "counsellor password for the test"


async def run_admin_create(settings: Settings, email: str, name: str, password: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIPBOT_", "SLACK_", "MICROSOFT_APP_"))}
    env.update(
        {
            "VIPBOT_DATABASE_URL": settings.effective_database_url,
            "VIPBOT_DATA_DIR": str(settings.data_dir),
            "VIPBOT_SECRET_KEY": settings.secret_key.get_secret_value() if settings.secret_key else "",
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "admin",
        "create",
        "--email",
        email,
        "--name",
        name,
        "--password-stdin",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate((password + "\n").encode())
    assert process.returncode == 0, output.decode()
    return output.decode()


async def enrol_authenticator(page: Page, clock: FixedClock) -> Secret[bytes]:
    await expect(page.locator("h1")).to_have_text("Stel je tweede stap in")
    text = (await page.locator("#totp-secret").inner_text()).strip()
    secret = Secret(base64.b32decode(text + "=" * (-len(text) % 8)))
    await page.fill("#code", totp_code(secret, clock.now().timestamp()))
    await page.click("main button[type=submit]")
    clock.advance(timedelta(seconds=30))
    return secret


async def test_first_admin_invites_a_counsellor_who_writes_a_column(  # noqa: PLR0915
    page: Page, live_url: str, console_services: Services, clock: FixedClock
) -> None:
    output = await run_admin_create(
        console_services.settings, "beheer@praktijk.test", "Bea Beheer", ADMIN_PASSWORD
    )
    assert "Created administrator beheer@praktijk.test" in output

    # the administrator signs in and must set up an authenticator first
    await page.goto(live_url + "/console/")
    await expect(page).to_have_url(live_url + "/console/login")
    await page.fill("#email", "beheer@praktijk.test")
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("main button[type=submit]")
    await enrol_authenticator(page, clock)
    await expect(page.locator("h1")).to_have_text("Organisaties")

    # a new organisation
    await page.click("text=Nieuwe organisatie")
    await page.fill("#name", "Zorggroep De Linde")
    await page.click("main button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Zorggroep De Linde")
    await page.fill("#g-name", "Verpleging")
    await page.click("form[action$='/groups'] button[type=submit]")
    await expect(page.locator("table")).to_contain_text("Verpleging")
    await page.select_option("#b-group", label="Verpleging")
    await page.fill("#b-workspace", "T0LINDE")
    await page.fill("#b-channel", "C0VERPLEGING")
    await page.fill("#b-name", "verpleging-algemeen")
    await page.click("form[action$='/bindings'] button[type=submit]")
    await expect(page.locator("table")).to_contain_text("verpleging-algemeen")

    # invite a counsellor for it
    await page.click("nav.main >> text=Accounts")
    await page.fill("#i-email", "vera@praktijk.test")
    await page.select_option("#i-role", "counsellor")
    await page.select_option("#i-org", label="Zorggroep De Linde")
    await page.click("form[action$='/invite'] button[type=submit]")
    link = (await page.locator("#invitation-link").inner_text()).strip()
    invitation_path = link[link.index("/console/invitation/") :]

    # the counsellor, in her own browser, accepts, sets up TOTP and lands on her organisation
    counsellor = await page.context.browser.new_context(locale="nl-NL")  # type: ignore[union-attr]
    vera = await counsellor.new_page()
    vera_errors: list[str] = []
    vera.on("pageerror", lambda error: vera_errors.append(str(error)))
    try:
        await vera.goto(live_url + invitation_path)
        await vera.fill("#display_name", "Vera de Vries")
        await vera.fill("#password", COUNSELLOR_PASSWORD)
        await vera.fill("#password_repeat", COUNSELLOR_PASSWORD)
        await vera.click("main button[type=submit]")
        await enrol_authenticator(vera, clock)
        await expect(vera.locator("main")).to_contain_text("Zorggroep De Linde")
        # the invitation works once
        again = await vera.goto(live_url + invitation_path)
        assert again is not None
        assert again.status == 404

        # a column, with the live Slack and Teams preview
        await vera.goto(live_url + "/console/")
        await vera.click("main >> text=Zorggroep De Linde")
        await vera.click("nav.main >> text=Inhoud")
        await vera.click("text=Nieuwe column")
        await vera.fill("#title_nl", "Samen sterker tegen pesten")
        await vera.fill("#summary_nl", "Wat je kunt doen als je pesten ziet.")
        await vera.fill(
            "#body_nl",
            "Pesten begint vaak **klein**.\n\n## Wat kun je doen?\n\n"
            "- Zeg er iets van\n- Praat met de vertrouwenspersoon",
        )
        slack = vera.locator(".preview-slack")
        teams = vera.locator(".preview-teams")
        await expect(slack).to_contain_text("Samen sterker tegen pesten")
        await expect(slack).to_contain_text("Zeg er iets van")
        await expect(teams).to_contain_text("Samen sterker tegen pesten")
        await expect(teams).to_contain_text("Praat met de vertrouwenspersoon")
        assert await slack.locator("strong", has_text="klein").count() >= 1
        # a construct outside the subset is refused, with the line
        await vera.fill("#body_en", "1. numbered")
        await expect(vera.locator("#preview .problems")).to_contain_text("EN, regel 1")
        await vera.fill("#body_en", "")
        await expect(vera.locator(".preview-slack")).to_be_visible()
        await vera.click("form#editor button[type=submit]")
        await expect(vera.locator(".flash.ok")).to_have_text("Opgeslagen.")

        # schedule it every Monday for the nursing department, and find it in the calendar
        await vera.click("text=Inplannen of nu versturen")
        await expect(vera.locator("#s-item option:checked")).to_have_text("Samen sterker tegen pesten")
        await vera.check("input[name=groups][value=verpleging]")
        await vera.fill("#s-name", "Maandagcolumn")
        await vera.fill("#s-recurrence", "every monday at 09:30")
        await vera.click("button[value=schedule]")
        await expect(vera.locator("h1")).to_have_text("Planning")
        monday = vera.locator(".calendar .day[data-date='2026-03-09']")
        await expect(monday).to_contain_text("09:30 Maandagcolumn: Samen sterker tegen pesten")
        await expect(vera.locator("#h-schedules + table")).to_contain_text("every monday at 09:30")
        # pause shows it as paused, resume brings it back
        await vera.click("#h-schedules + table button:has-text('Pauzeren')")
        await expect(monday.locator(".entry.paused")).to_have_count(1)
        await vera.click("#h-schedules + table button:has-text('Hervatten')")
        await expect(monday.locator(".entry.planned")).to_have_count(1)

        # plan a team session; it is announced, counts sign-ups, and can be cancelled
        await vera.click("nav.main >> text=Teamsessies")
        await vera.fill("#ss-title", "Intervisie: grenzen aangeven")
        await vera.fill("#ss-day", "2026-03-11")
        await vera.fill("#ss-start", "14:00")
        await vera.fill("#ss-end", "15:30")
        await vera.fill("#ss-place", "Kantine, 1e verdieping")
        await vera.check("#h-plan ~ form input[name=groups][value=verpleging]")
        await vera.click("#h-plan ~ form button[type=submit]")
        await expect(vera.locator("#announce-effect")).to_contain_text(
            "aangekondigd bij #verpleging-algemeen"
        )
        await vera.click("#announce-confirm")
        await expect(vera.locator(".flash.ok")).to_have_text("De sessie is gepland en wordt aangekondigd.")
        row = vera.locator("tr", has_text="Intervisie: grenzen aangeven")
        await expect(row.locator(".signups")).to_have_text("0")
        await vera.click("nav.main >> text=Planning")
        await expect(vera.locator(".calendar .day[data-date='2026-03-11']")).to_contain_text("Intervisie")

        # the periodic report: write signals and advice, download the PDF and read it
        await vera.click("nav.main >> text=Rapportage")
        await vera.fill("#signals", "Meerdere signalen over de toon in overdrachten.")
        await vera.fill("#advice", "Bespreek de omgangsvormen in het teamoverleg.")
        await vera.click("form[action$='/report/notes'] button[type=submit]")
        await expect(vera.locator(".flash.ok")).to_be_visible()
        async with vera.expect_download() as download_info:
            await vera.click("#report-pdf")
        download = await download_info.value
        pdf_path = await download.path()
        reader = PdfReader(str(pdf_path))
        text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
        assert "Rapportage vertrouwenspersoon Zorggroep De Linde, eerste halfjaar 2026" in text
        assert "Meerdere signalen over de toon in overdrachten." in text
        assert "Bespreek de omgangsvormen in het teamoverleg." in text
        assert (
            "In deze periode is geen teamsessie gehouden." in text
        )  # the session of 11 March is still to come
        assert vera_errors == []
    finally:
        await counsellor.close()

    # a second organisation, real and with a report of its own: the administrator sees it
    await console_services.organisations.add_organisation(
        "Bouwbedrijf Noord", "noord", "Europe/Amsterdam", "nl", 90
    )
    for path, heading in (
        ("/console/o/noord/insights", "Inzichten · Bouwbedrijf Noord"),
        ("/console/o/noord/report", "Rapportage · Bouwbedrijf Noord"),
    ):
        response = await page.goto(live_url + path)
        assert response is not None
        assert response.status == 200, path
        await expect(page.locator("h1")).to_have_text(heading)

    # a management viewer of the organisation: insights and reports only
    await page.click("nav.main >> text=Accounts")
    await page.fill("#i-email", "directie@linde.test")
    await page.select_option("#i-role", "viewer")
    await page.select_option("#i-org", label="Zorggroep De Linde")
    await page.click("form[action$='/invite'] button[type=submit]")
    link = (await page.locator("#invitation-link").inner_text()).strip()
    management = await page.context.browser.new_context(locale="nl-NL")  # type: ignore[union-attr]
    mt = await management.new_page()
    try:
        await mt.goto(live_url + link[link.index("/console/invitation/") :])
        await mt.fill("#display_name", "Dirk Directie")
        await mt.fill("#password", "management password 1")
        await mt.fill("#password_repeat", "management password 1")
        await mt.click("main button[type=submit]")
        await expect(mt.locator("h1")).to_have_text("Inzichten · Zorggroep De Linde")
        await mt.click("nav.main >> text=Rapportage")
        await expect(mt.locator("main")).to_contain_text("Bespreek de omgangsvormen in het teamoverleg.")
        assert await mt.locator("#advice").count() == 0  # read-only for management
        for path, status in (
            ("/console/o/zorggroep-de-linde", 403),
            ("/console/o/zorggroep-de-linde/content", 403),
            ("/console/o/zorggroep-de-linde/calendar", 403),
            ("/console/o/zorggroep-de-linde/sessions", 403),
            ("/console/accounts", 403),
            ("/console/o/noord/insights", 404),
            ("/console/o/noord/report", 404),
            ("/console/o/noord/report.pdf", 404),
        ):
            response = await mt.goto(live_url + path)
            assert response is not None
            assert response.status == status, path
            assert "Bouwbedrijf Noord" not in await mt.content(), path
    finally:
        await management.close()
    assert page.errors == []  # type: ignore[attr-defined]

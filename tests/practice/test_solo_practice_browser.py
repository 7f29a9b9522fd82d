"""A one-person practice sets itself up in Chromium, against the real `vipbot serve`: the only command is
`vipbot admin create`; everything else — becoming the counsellor, the key, the profile with a photo, the
organisation, its own sociale kaart and the first reply to a conversation begun in the portal — is done in the
browser, with the passphrase typed there and nowhere else."""

from __future__ import annotations

import asyncio
import base64
import io
import re
import time
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Browser, Page, expect

from bot.security import Secret, totp_code
from tests.ops.cli import run_vipbot
from tests.support.browser import CHROMIUM_ARGS, browser  # noqa: F401  (fixture)
from tests.support.net import free_port, wait_for_http
from tests.support.process import start_vipbot, stop, vipbot_env

EMAIL = "mira@praktijk.test"
PASSWORD = "een lang en nieuw wachtwoord"
PASSPHRASE = "alleen ik ken deze wachtwoordzin"
HR_PHONE = "+31 20 555 0123"

pytestmark = pytest.mark.browser
_ = CHROMIUM_ARGS


def portrait() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (900, 1200), (90, 140, 200)).save(out, format="JPEG")
    return out.getvalue()


async def new_page(browser: Browser) -> Page:  # noqa: F811
    context = await browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam")
    context.set_default_timeout(30_000)
    return await context.new_page()


async def sign_in_first_time(page: Page, base: str) -> None:
    await page.goto(base + "/console/login")
    await page.fill("#email", EMAIL)
    await page.fill("#password", PASSWORD)
    await page.click("main form button[type=submit]")
    text = (await page.locator("#totp-secret").inner_text()).strip()
    secret = Secret(base64.b32decode(text + "=" * (-len(text) % 8)))
    await page.fill("#code", totp_code(secret, time.time()))
    await page.click("main form button[type=submit]")
    await expect(page).to_have_url(base + "/console/")


async def test_a_solo_practitioner_sets_everything_up_in_the_browser(  # noqa: PLR0915
    tmp_path: Path,
    browser: Browser,  # noqa: F811
) -> None:
    data = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    env = {"VIPBOT_PORTAL_POW_BITS": "8", "VIPBOT_TEAMS": "false"}
    with log_path.open("wb") as log:
        process = start_vipbot(["serve"], vipbot_env(data, port, **env), tmp_path, log)
        try:
            await wait_for_http(f"{base}/healthz", timeout=90)
            created = await run_vipbot(
                ["admin", "create", "--email", EMAIL, "--name", "Mira Jansen", "--password-stdin"],
                data,
                stdin=PASSWORD + "\n",
                **env,
            )
            assert created.code == 0, created.err

            console = await new_page(browser)
            await sign_in_first_time(console, base)

            # -- become the counsellor and create the key, in the browser ----------------------------------
            await console.get_by_role("link", name="Profiel").click()
            await console.get_by_role("button", name="Ik ben ook de vertrouwenspersoon").click()
            await expect(console.locator("#profile-done")).to_be_visible()
            await console.get_by_label("Nieuwe wachtwoordzin", exact=True).fill(PASSPHRASE)
            await console.get_by_label("Herhaal de nieuwe wachtwoordzin").fill(PASSPHRASE)
            await console.get_by_role("button", name="Sleutel aanmaken").click()
            await expect(console.locator("#key-status")).to_be_visible()

            # -- the profile: a photo and an introduction ----------------------------------------------------
            await console.locator("#photo-file").set_input_files(
                {"name": "portret.jpg", "mimeType": "image/jpeg", "buffer": portrait()}
            )
            await console.get_by_role("button", name="Foto opslaan").click()
            preview = console.locator("#photo-preview")
            await expect(preview).to_be_visible()
            assert await preview.evaluate("img => img.complete && img.naturalWidth") == 512
            await console.get_by_label("Introductie (Nederlands)").fill("Ik luister, zonder oordeel.")
            await console.get_by_role("button", name="Introductie opslaan").click()
            await expect(console.get_by_label("Introductie (Nederlands)")).to_have_value(
                "Ik luister, zonder oordeel."
            )

            # -- the organisation, which she serves as its counsellor ------------------------------------
            await console.get_by_role("link", name="Organisaties").click()
            await console.get_by_role("link", name="Nieuwe organisatie").click()
            await console.get_by_label("Naam", exact=True).fill("Bakkerij Vers")
            await console.get_by_role("button", name="Organisatie aanmaken").click()
            await expect(console).to_have_url(re.compile(r".*/console/o/bakkerij-vers$"))

            # -- its own sociale kaart: HR with a real phone number ---------------------------------------
            await (
                console.get_by_role("navigation", name="Hoofdmenu")
                .get_by_role("link", name="Instellingen")
                .click()
            )
            await console.get_by_label("Onderdeel").select_option("hr")
            await console.get_by_label("Telefoon").fill(HR_PHONE)
            await console.get_by_role("button", name="Opslaan op de sociale kaart").click()
            await expect(console.locator("#social-map table")).to_contain_text(HR_PHONE)

            # -- an employee begins a conversation in the portal -------------------------------------------
            employee = await new_page(browser)
            await employee.goto(f"{base}/portal/bakkerij-vers")
            await employee.get_by_role("link", name="Begin een gesprek").click()
            await employee.get_by_label("Anoniem").check()
            await employee.get_by_label("Wat wil je bespreken?").fill("Mag ik iets vertellen over mijn chef?")
            await employee.get_by_role("button", name="Verstuur en maak mijn code").click()
            await expect(employee.locator("#receipt-code")).to_be_visible()
            await employee.get_by_role("link", name="Ik heb mijn code bewaard, ga naar het gesprek").click()

            # -- the first reply, from the console -------------------------------------------------------
            await console.reload()
            await console.locator("#nav-inbox").click()
            await console.get_by_label("Wachtwoordzin").fill(PASSPHRASE)
            await console.get_by_role("button", name="Ontgrendelen").click()
            await console.locator("main table a[href*='/inbox/']").first.click()
            await expect(console.locator(".chat")).to_contain_text("over mijn chef", timeout=20_000)
            await console.get_by_label("Je antwoord").fill("Natuurlijk. Vertel maar, in je eigen tempo.")
            await console.get_by_role("button", name="Antwoord versleuteld versturen").click()
            await expect(console.locator(".chat")).to_contain_text("in je eigen tempo")

            await employee.reload()
            await expect(employee.locator(".thread")).to_contain_text("in je eigen tempo")
        finally:
            code = stop(process)
    assert code == 0, log_path.read_text()
    output = log_path.read_text()
    assert PASSPHRASE not in output
    assert PASSWORD not in output
    await asyncio.sleep(0)

"""What real Chromium keeps on disk after an employee used the portal: no message, no pseudonym, no code.

Chromium writes the open tabs (with the POST bodies of their pages and the state of their form fields) into its
session-restore files under `Default/Sessions/`, typed text into its autofill table, and pages into its cache.
The employee starts a conversation, writes once more and is refused once; then the browser is closed and every
file of its profile folder is searched.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import async_playwright, expect

from bot.app import Services, build_app
from bot.web.portal.limits import PortalLimits
from bot.web.portal.routes import build_portal_app
from tests.portal.support import practice
from tests.support.browser import CHROMIUM_ARGS, chromium_path, serve_app

pytestmark = pytest.mark.browser


def _found(profile: Path, needle: str) -> list[str]:
    forms = {needle.encode("utf-8"), needle.encode("utf-16-le")}
    hits = []
    for path in profile.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(form in data for form in forms):
                hits.append(str(path.relative_to(profile)))
    return hits


async def test_the_profile_folder_keeps_neither_message_nor_pseudonym(
    services: Services, tmp_path: Path
) -> None:
    await practice(services)
    canary = f"CANARY{uuid.uuid4().hex}"
    pseudonym = f"Pseudo{uuid.uuid4().hex[:12]}"
    later = f"LATER{uuid.uuid4().hex}"

    def portal(app: aiohttp.web.Application, svc: Services) -> None:
        app.add_subapp("/portal", build_portal_app(svc, PortalLimits(pow_bits=8)))

    profile = tmp_path / "profile"
    async with serve_app(build_app(services, [portal])) as base, async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium_path(),
            args=[*CHROMIUM_ARGS, "--restore-last-session"],
            locale="nl-NL",
        )
        context.set_default_timeout(20_000)
        page = context.pages[0] if context.pages else await context.new_page()
        await page.goto(f"{base}/portal/de-linde/start")
        await page.locator("input[name=mode][value=pseudonymous]").check()
        await page.locator("#identity").fill(pseudonym)
        await page.locator("#text").fill(f"Het gaat om {canary}.")
        await page.locator("form[data-pow] button[type=submit]").click()
        code_box = page.locator("#receipt-code")
        await expect(code_box).to_be_visible()
        code = (await code_box.inner_text()).strip()
        await page.goto(f"{base}/portal/de-linde/conversation")
        await page.locator("#text").fill(f"Nog iets: {later}")
        await page.locator("form[action$='/conversation'] button[type=submit]").click()
        await expect(page.locator(".thread")).to_contain_text(later)
        # a reload shows a calm page, not an error
        reloaded = await page.reload()
        assert reloaded is not None
        assert reloaded.status == 200
        # the employee leaves the text box half written and the tab open when the browser closes
        await page.locator("#text").fill(f"Half geschreven {later}")
        await page.wait_for_timeout(0)
        await context.close()

    sessions = profile / "Default" / "Sessions"
    assert sessions.is_dir()
    assert any(p.stat().st_size > 0 for p in sessions.iterdir())  # the files the search is about exist
    assert _found(profile, "/portal/de-linde/conversation")  # and the search finds what is in them
    for needle in (canary, pseudonym, later, code, code.replace("-", "")):
        assert _found(profile, needle) == [], needle
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){4}", code)


async def test_the_counsellors_profile_keeps_neither_passphrase_nor_reply(
    services: Services, tmp_path: Path
) -> None:
    from bot.domain.accounts import Role
    from bot.domain.conversations import Mode
    from bot.security import INSECURE_TEST_ARGON2_PARAMS, INSECURE_TEST_PASSWORD_POLICY, Secret, totp_code
    from bot.web import console
    from bot.web.portal.channel import ConfidentialChannel
    from tests.console.helpers import make_person
    from tests.portal.support import PASSPHRASE

    services.password_policy = INSECURE_TEST_PASSWORD_POLICY
    org = await services.organisations.add_organisation(
        "Zorggroep De Linde", "de-linde", "Europe/Amsterdam", "nl", 90
    )
    person = await make_person(
        services, Role.COUNSELLOR, "mira@vp.test", org.id, password="correct horse battery"
    )
    channel = ConfidentialChannel(
        services.engine, services.settings, services.clock, argon2=INSECURE_TEST_ARGON2_PARAMS
    )
    assert await channel.add_counsellor(org.id, "Mira", "mira@vp.test", Secret(PASSPHRASE)) == (
        person.account.counsellor_id
    )
    await channel.service.start(org.id, 90, Mode.ANONYMOUS, "Hallo")
    wrong = f"Wrong{uuid.uuid4().hex}"
    reply = f"REPLY{uuid.uuid4().hex}"
    profile = tmp_path / "profile"
    async with serve_app(build_app(services, [console.install])) as base, async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile), executable_path=chromium_path(), args=CHROMIUM_ARGS, locale="nl-NL"
        )
        context.set_default_timeout(20_000)
        page = context.pages[0] if context.pages else await context.new_page()
        await page.goto(f"{base}/console/login")
        await page.locator("#email").fill(person.email)
        await page.locator("#password").fill("correct horse battery")
        await page.locator("button[type=submit]").click()
        assert person.totp is not None
        await page.locator("#code").fill(totp_code(person.totp, services.clock.now().timestamp()))
        await page.locator("button[type=submit]").click()
        await page.goto(f"{base}/console/o/de-linde/inbox")
        await page.locator("#passphrase").fill(wrong)
        await page.locator("form[action$='/inbox/unlock'] button[type=submit]").click()
        await expect(page.get_by_role("alert")).to_contain_text("opent je sleutel niet")
        await page.locator("#passphrase").fill(PASSPHRASE)
        await page.locator("form[action$='/inbox/unlock'] button[type=submit]").click()
        await page.get_by_role("link", name=re.compile("Gesprek van")).click()
        await page.locator("#reply").fill(f"Dank je. {reply}")
        await page.locator("form[action$='/reply'] button[type=submit]").click()
        await expect(page.locator(".thread")).to_contain_text(reply)
        await context.close()

    assert (profile / "Default" / "Sessions").is_dir()
    assert _found(profile, "/console/o/de-linde/inbox")  # the search finds what is there
    for needle in (wrong, PASSPHRASE, reply):
        assert _found(profile, needle) == [], needle

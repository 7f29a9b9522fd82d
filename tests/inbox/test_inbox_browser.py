"""In Chromium: a counsellor of two organisations signs in and reaches every waiting conversation by clicking
only. After the sign-in page no address is visited: the home page, the menu and the inbox lead everywhere."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from bot.app import Services, build_app
from bot.domain.clock import FixedClock
from bot.domain.conversations import Author, Mode
from bot.security import INSECURE_TEST_PASSWORD_POLICY, totp_code
from bot.web import console
from tests.inbox.support import PASSPHRASE, counsellor_of_two
from tests.support.browser import browser, page, serve_app  # noqa: F401  (fixtures)


async def go_home(tab: Page) -> None:
    await tab.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Organisaties").click()


async def test_a_counsellor_of_two_organisations_reaches_every_waiting_conversation_by_clicking(  # noqa: PLR0915
    page: Page,  # noqa: F811
    services: Services,
    clock: FixedClock,
) -> None:
    services.password_policy = INSECURE_TEST_PASSWORD_POLICY
    person, channel, linde, noord = await counsellor_of_two(services)
    texts = {
        ("de-linde", "Mijn leidinggevende schreeuwt."): None,
        ("de-linde", "Een collega maakt grappen over mij."): None,
        ("noord", "Ik voel me buitengesloten."): None,
    }
    ids: dict[tuple[str, str], str] = {}
    for slug, text in texts:
        org = linde if slug == "de-linde" else noord
        conversation, _ = await channel.service.start(org.id, 90, Mode.ANONYMOUS, text)
        ids[(slug, text)] = str(conversation)
    # One that waits for the employee: not on the list of what needs the counsellor.
    answered, _ = await channel.service.start(noord.id, 90, Mode.ANONYMOUS, "Al beantwoord.")
    await channel.service.write(noord.id, 90, answered, Author.COUNSELLOR, "Dank je, ik lees het.", 1)

    async with serve_app(build_app(services, features=[console.install])) as base:
        visited: list[str] = []
        # Every request, redirects included: a key that opens quickly turns the progress page into a redirect.
        page.on("request", lambda request: visited.append(request.url))
        await page.goto(f"{base}/console/login")  # the only address typed; everything after is a click
        await page.locator("#email").fill(person.email)
        await page.locator("#password").fill(person.password)
        await page.locator("button[type=submit]").click()
        assert person.totp is not None
        await page.locator("#code").fill(totp_code(person.totp, clock.now().timestamp()))
        await page.locator("button[type=submit]").click()

        # Home: what needs me, in both organisations.
        needs = page.locator("#needs")
        await expect(needs).to_contain_text("2 gesprekken wachten op jou")
        await expect(needs).to_contain_text("1 gesprek wacht op jou")
        await expect(needs).to_contain_text("1 gesprek wacht op de medewerker")

        # The first: the inbox is locked, unlocking shows progress and lands on that very conversation.
        (slug, text), first = next(iter(ids.items()))
        await page.locator(f"#needs a[href$='/inbox/{first}']").click()
        await page.locator("#passphrase").fill(PASSPHRASE)
        await page.locator("form[action$='/inbox/unlock'] button[type=submit]").click()
        await expect(page.locator(".chat")).to_contain_text(text, timeout=20_000)
        assert any("/inbox/unlocking" in url for url in visited)  # the progress page was shown on the way

        # The second of De Linde through the organisation's menu: Gesprekken (2), then the list.
        await go_home(page)
        await page.locator("#needs h3 a", has_text="De-Linde").click()
        menu_item = page.locator("#nav-inbox")
        await expect(menu_item).to_have_text("Gesprekken (2)")
        await menu_item.click()
        second_key = ("de-linde", "Een collega maakt grappen over mij.")
        await page.locator(f"a[href$='/inbox/{ids[second_key]}']").click()
        await expect(page.locator(".chat")).to_contain_text(second_key[1])

        # Noord from the home page: the same unlocked key opens it, no passphrase again.
        noord_key = ("noord", "Ik voel me buitengesloten.")
        await go_home(page)
        await page.locator(f"#needs a[href$='/o/noord/inbox/{ids[noord_key]}']").click()
        await expect(page.locator(".chat")).to_contain_text(noord_key[1])
        await expect(page.locator(".chat .from-employee .who")).to_contain_text("Medewerker")

        # Answering it: the home page no longer lists it as waiting for me.
        await page.locator("#reply").fill("Wat vervelend. Wil je er meer over vertellen?")
        await page.locator("form[action$='/reply'] button[type=submit]").click()
        await expect(page.locator(".chat .from-counsellor")).to_contain_text("Wil je er meer over vertellen?")
        await go_home(page)
        await expect(page.locator(f"#needs a[href$='/inbox/{ids[noord_key]}']")).to_have_count(0)
        await expect(page.locator("#needs")).to_contain_text("2 gesprekken wachten op de medewerker")

    assert not page.errors  # type: ignore[attr-defined]
    reached = set(re.findall(r"/console/o/[a-z-]+/inbox/([0-9a-f-]{36})$", "\n".join(visited), re.M))
    assert set(ids.values()) <= reached

"""Planning in real Chromium: Enter in any schedule field never sends; "send now" names its audience and needs a
second step; a pulse planned in the console, answered through the Slack double, closed and seen in insights —
without the command line."""

from __future__ import annotations

import time as wallclock
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from playwright.async_api import Page, expect
from sqlmodel import func, select

from bot.adapters import slack
from bot.app import Services, build_app
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.delivery import Target, TargetKind
from bot.domain.tenancy import GroupKind, Organisation, Platform
from bot.reporting import service as pulses_feature
from bot.security import INSECURE_TEST_PASSWORD_POLICY, totp_code
from bot.storage.tables_outreach import OutreachDeliveryRow, OutreachOccurrenceRow
from bot.web import console
from bot.web.console.outreach_bridge import outreach_of
from scheduler import service as outreach_feature
from scheduler.worker import WorkerConfig
from tests.console.helpers import Person, make_person
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator, slack_api
from tests.support.browser import serve_app
from tests.support.slack import block_action, bot_channel, linked_org, signed_headers, slack_services

__all__ = ["slack_api"]

pytestmark = pytest.mark.browser


async def sign_in(page: Page, base: str, person: Person, clock: FixedClock) -> None:
    await page.goto(base + "/console/login")
    await page.fill("#email", person.email)
    await page.fill("#password", person.password)
    await page.click("main button[type=submit]")
    assert person.totp is not None
    await page.fill("#code", totp_code(person.totp, clock.now().timestamp()))
    await page.click("main button[type=submit]")
    clock.advance(timedelta(seconds=30))
    await expect(page.locator("nav.main")).to_be_visible()


async def outbox_counts(services: Services) -> tuple[int, int]:
    async with services.sessions() as session:
        occurrences = (await session.exec(select(func.count()).select_from(OutreachOccurrenceRow))).one()
        deliveries = (await session.exec(select(func.count()).select_from(OutreachDeliveryRow))).one()
    return int(occurrences), int(deliveries)


@pytest.fixture
async def linde(console_services: Services) -> Organisation:
    repo = console_services.organisations
    org = await repo.add_organisation("Zorggroep De Linde", "de-linde", "Europe/Amsterdam", "nl", 90)
    await repo.add_group(org.id, "Wijkzorg", GroupKind.DEPARTMENT, None)
    await repo.add_group(org.id, "Wijkteam 3", GroupKind.TEAM, "wijkzorg")
    await repo.bind_channel(org.id, "wijkteam-3", Platform.SLACK, "T0LINDE", "C0WIJK3", "wijkteam-3")
    members = outreach_of(console_services).materialiser.members
    for n in range(14):
        await members.register(org.id, Target(Platform.SLACK, "T0LINDE", TargetKind.PERSON, f"U{n:04d}"))
    return org


@pytest.fixture
async def counsellor(console_services: Services, linde: Organisation) -> Person:
    return await make_person(console_services, Role.COUNSELLOR, "vera@praktijk.test", linde.id)


@pytest.fixture
async def served(console_services: Services) -> AsyncIterator[str]:
    async with serve_app(build_app(console_services, features=[console.install])) as base:
        yield base


FIELDS = ("#s-name", "#s-interval", "#s-day", "#s-at", "#s-recurrence")


async def test_enter_in_any_schedule_field_never_sends(
    page: Page,
    served: str,
    console_services: Services,
    clock: FixedClock,
    linde: Organisation,
    counsellor: Person,
) -> None:
    await sign_in(page, served, counsellor, clock)
    column = console_services.content.catalog.columns[0]
    form = f"{served}/console/o/de-linde/schedules/new?" + urlencode({"what": "column", "item": column.id})

    # An empty form: Enter in every field shows what is missing, next to the field, and keeps what was typed.
    await page.goto(form)
    await page.check("input[name=groups][value=wijkteam-3]")
    await page.fill("#s-interval", "99")
    await page.press("#s-interval", "Enter")
    await expect(page.locator("#e-name")).to_have_text("Geef het schema een naam.")
    await expect(page.locator("#e-interval")).to_contain_text("van 1 tot en met 52")
    await expect(page.locator("#s-interval")).to_have_value("99")
    await expect(page.locator("#s-name")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("input[name=groups][value=wijkteam-3]")).to_be_checked()

    # Complete forms: Enter saves the schedule (or says why not) — in every field, never a post.
    for index, field in enumerate(FIELDS):
        await page.goto(form)
        await page.check("input[name=groups][value=wijkteam-3]")
        await page.check("input[name=members]")
        await page.fill("#s-name", f"Dinsdagcolumn {index}")
        await page.select_option("#s-frequency", "weekly")
        await page.uncheck("input[name=days][value=mon]")
        await page.check("input[name=days][value=tue]")
        await page.fill("#s-at", "10:15")
        if field == "#s-recurrence":
            await page.fill("#s-recurrence", "om de dinsdag 10 uur")
        # the next five occurrences follow what is picked, before anything is saved
        await expect(page.locator("#preview li").first).to_contain_text("dinsdag 3 maart 2026")
        await page.press(field, "Enter")
        await expect(page.locator("h1")).to_have_text("Planning")
        await expect(page.locator(".flash.ok")).to_have_text(f"Schema 'Dinsdagcolumn {index}' is opgeslagen.")
        assert await outbox_counts(console_services) == (0, 0), field
    schedules = await outreach_of(console_services).schedules.list_schedules(linde)
    assert len(schedules) == len(FIELDS)
    assert {s.recurrence.text for s in schedules} == {"elke dinsdag om 10:15", "om de dinsdag 10 uur"}
    assert page.errors == []  # type: ignore[attr-defined]


async def test_publish_now_names_its_audience_and_needs_a_second_step(
    page: Page,
    served: str,
    console_services: Services,
    clock: FixedClock,
    linde: Organisation,
    counsellor: Person,
) -> None:
    await sign_in(page, served, counsellor, clock)
    column = console_services.content.catalog.columns[0]
    await page.goto(
        f"{served}/console/o/de-linde/schedules/new?" + urlencode({"what": "column", "item": column.id})
    )
    await page.check("input[name=groups][value=wijkteam-3]")
    await page.check("input[name=members]")
    await page.click("#publish-now")
    await expect(page.locator("h1")).to_have_text("Nu versturen?")
    await expect(page.locator("#publish-audience")).to_contain_text("gaat nu naar #wijkteam-3 en 14 mensen.")
    await expect(page.locator("#publish-confirm")).to_have_text(
        "Ja, nu versturen naar #wijkteam-3 en 14 mensen"
    )
    assert await outbox_counts(console_services) == (0, 0)  # the first step sent nothing

    # "back" sends nothing either
    await page.click("text=Terug, niet versturen")
    await expect(page.locator("h1")).to_have_text("Inplannen of nu versturen")
    assert await outbox_counts(console_services) == (0, 0)

    await page.check("input[name=groups][value=wijkteam-3]")
    await page.check("input[name=members]")
    await page.click("#publish-now")
    await page.click("#publish-confirm")
    await expect(page.locator("h1")).to_have_text("Bezorging")
    status = page.locator("#delivery-status")
    await expect(status).to_contain_text("In de wachtrij gezet voor 15 kanalen en personen.")
    await expect(status).not_to_contain_text("Bezorgd bij")
    await expect(status.locator("dd.pending")).to_have_text("15")
    assert await outbox_counts(console_services) == (1, 15)
    # a reload of the status page is a GET: nothing is sent twice
    await page.reload()
    assert await outbox_counts(console_services) == (1, 15)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_the_digest_is_planned_on_its_page_and_removed_only_after_asking(
    page: Page,
    served: str,
    console_services: Services,
    clock: FixedClock,
    linde: Organisation,
    counsellor: Person,
) -> None:
    await sign_in(page, served, counsellor, clock)
    await page.click("main >> text=Zorggroep De Linde")
    await page.click("nav.main >> text=Maandoverzicht")
    await expect(page.locator("h1")).to_have_text("Maandoverzicht")
    await expect(page.locator("#h-planned ~ p").first).to_have_text(
        "Het maandoverzicht is nog niet ingepland."
    )

    # Enter in the form plans it (on the 1st at nine, moved on from a weekend or holiday): nothing is sent.
    await page.check("input[name=groups][value=wijkteam-3]")
    await page.fill("#d-at", "08:30")
    await page.press("#d-name", "Enter")
    await expect(page.locator(".flash.ok")).to_have_text("Schema 'maandoverzicht' is opgeslagen.")
    row = page.locator("#digest-schedules tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("maandelijks op dag 1 om 08:30")
    await expect(row).to_contain_text("wijkteam-3")
    assert await outbox_counts(console_services) == (0, 0)

    # Removing asks first; "back" keeps it.
    await row.locator("text=Verwijderen").click()
    await expect(page.locator("h1")).to_have_text("Schema 'maandoverzicht' verwijderen?")
    await page.click("text=Terug")
    await expect(page.locator("h1")).to_have_text("Maandoverzicht")
    await expect(row).to_have_count(1)
    await row.locator("text=Verwijderen").click()
    await page.click("#remove-confirm")
    await expect(page.locator(".flash.ok")).to_have_text("Schema 'maandoverzicht' is verwijderd.")
    await expect(row).to_have_count(0)
    assert await outreach_of(console_services).schedules.list_schedules(linde) == []
    assert page.errors == []  # type: ignore[attr-defined]


# --- a pulse, from the console to the insights page --------------------------------------------------------


def answer_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    found = [e for b in message.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]]
    found += [b["accessory"] for b in message.get("blocks") or [] if "accessory" in b]
    return [b for b in found if b.get("action_id", "").startswith("vp-pulse:")]


async def test_a_pulse_planned_answered_closed_and_seen_in_insights_without_the_cli(  # noqa: PLR0915
    page: Page, services: Services, slack_api: SlackApiSimulator, clock: FixedClock
) -> None:
    configured = slack_services(services, slack_api, scheduler=False, slack_bot_token=DEFAULT_TOKEN)
    configured.password_policy = INSECURE_TEST_PASSWORD_POLICY
    repo = configured.organisations
    org = await linked_org(configured, "Zorggroep De Linde", "de-linde")
    await repo.add_group(org.id, "Zorg", GroupKind.DEPARTMENT, None)
    await repo.add_group(org.id, "Team Noord", GroupKind.TEAM, "zorg")
    await repo.bind_channel(org.id, "team-noord", Platform.SLACK, DEFAULT_TEAM, "C0NOORD", "noord")
    bot_channel(slack_api, "C0NOORD", "noord")
    people = [f"U{n:04d}" for n in range(12)]
    for user in people:
        slack_api.add_user(user)
    vera = await make_person(configured, Role.COUNSELLOR, "vera@praktijk.test", org.id)

    app = build_app(
        configured,
        features=[slack.install, outreach_feature.install, pulses_feature.install, console.install],
    )
    async with serve_app(app) as base, aiohttp.ClientSession() as http:
        outreach, pulses = configured.outreach, configured.pulses
        assert outreach is not None
        assert pulses is not None
        await sign_in(page, base, vera, clock)

        # The empty insights page offers the next step; the pulses page plans a round now, in two steps.
        await page.click("main >> text=Zorggroep De Linde")
        await page.click("nav.main >> text=Inzichten")
        await page.click("#plan-pulse")
        await expect(page.locator("h1")).to_have_text("Peilingen")
        await page.click(
            "#h-sets ~ table tr:has-text('Wekelijkse check-in') >> text=Inplannen of nu versturen"
        )
        await expect(page.locator("#s-what")).to_have_value("pulse")
        await expect(page.locator("#s-item option:checked")).to_have_text("Wekelijkse check-in")
        await page.check("input[name=groups][value=team-noord]")
        await page.click("#publish-now")
        await expect(page.locator("#publish-audience")).to_contain_text("gaat nu naar #noord.")
        await page.click("#publish-confirm")
        await expect(page.locator("#delivery-status")).to_contain_text("In de wachtrij gezet voor 1 kanaal")

        # The service's delivery worker posts it to Slack; the status page then says it arrived.
        assert await outreach.worker(WorkerConfig(rate_per_second=100, poll_interval=0.05)).drain() == 1
        await page.reload()
        await expect(page.locator("#delivery-status")).to_contain_text("Bezorgd bij 1 kanaal of persoon.")
        post = slack_api.messages["C0NOORD"][0]
        buttons = answer_buttons(post)
        pulse_set = configured.content.catalog.pulse_set("wekelijkse-check-in")
        assert pulse_set is not None

        # Twelve people answer every question with one click each, through signed Slack requests.
        for user in people:
            for question in pulse_set.questions:
                value = "goed" if question.kind.value == "choice" else "4"
                button = next(b for b in buttons if b["action_id"] == f"vp-pulse:{question.id}:{value}")
                body, content_type = block_action(
                    user, button["action_id"], button["value"], "C0NOORD", post["ts"]
                )
                async with http.post(
                    f"{base}/slack/events", data=body, headers=signed_headers(body, content_type)
                ) as response:
                    assert response.status == 200
        deadline = wallclock.monotonic() + 30
        while len(slack_api.ephemerals) < len(people) * len(pulse_set.questions):
            assert wallclock.monotonic() < deadline, "the clicks were not all confirmed"
            await page.wait_for_timeout(50)

        # The round is closed from the console, after a confirmation that says what closing does.
        await page.goto(f"{base}/console/o/de-linde/pulses")
        rounds = page.locator("#rounds")
        await expect(rounds).to_contain_text("staat open")
        await rounds.locator("text=Nu sluiten…").click()
        await expect(page.locator("#close-effect")).to_contain_text("geen antwoorden meer aangenomen")
        await page.click("#close-confirm")
        await expect(page.locator(".flash.ok")).to_contain_text("De ronde is gesloten.")
        await expect(rounds).to_contain_text("na afloop van maart 2026")
        (round_,) = await pulses.store.rounds(org.id, "wekelijkse-check-in")
        assert round_.closed_at is not None

        # Nothing is published before the month is over (the DP rules release whole ended periods only).
        assert await pulses.tick() == []
        assert await pulses.store.releases(org.id, "wekelijkse-check-in") == []
        # Past the period's end the service's minute loop releases March: insights show it, with margins.
        clock.set(datetime(2026, 4, 1, 0, 5, tzinfo=UTC))
        assert await pulses.tick() == [(org.id, "wekelijkse-check-in", "2026-03")]
        await sign_in(page, base, vera, clock)  # weeks later: a new console session
        await page.goto(f"{base}/console/o/de-linde/insights")
        main = page.locator("main")
        await expect(main.locator("h2").first).to_contain_text("Wekelijkse check-in")
        await expect(main.locator("table").first).to_contain_text("Team Noord")
        await expect(main.locator("table").first).to_contain_text("±")
        html = await page.content()
        for user in people:
            assert user not in html
    assert page.errors == []  # type: ignore[attr-defined]

"""Insights through the one anonymity path, and the periodic report as a page and as a PDF."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

from aiohttp.test_utils import TestClient
from pypdf import PdfReader

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.insights import load_insights, release_due, summary_lines
from bot.domain.tenancy import GroupKind, Organisation
from bot.security.noise import OpenDpNoise
from bot.storage.db import transaction
from bot.storage.pulses import SqlPulseStore, master_key_from
from bot.storage.tables_conversations import ConversationClassificationRow
from bot.web.console.report import suppress
from tests.console.helpers import form_token, make_person, other_browser, seed_pulse_round, sign_in


async def _tree(services: Services, org: Organisation) -> None:
    repo = services.organisations
    await repo.add_group(org.id, "Zorg", GroupKind.DEPARTMENT, None)
    for name in ("Team A", "Team B", "Team C"):
        await repo.add_group(org.id, name, GroupKind.TEAM, "zorg")


async def _classify(services: Services, org: Organisation, category: str, count: int, month: date) -> None:
    async with transaction(services.sessions) as session:
        for _ in range(count):
            session.add(
                ConversationClassificationRow(
                    organisation_id=org.id,
                    month=month,
                    category=category,
                    contact_type="spar",
                    follow_up="listening",
                )
            )


async def test_insights_show_the_summary_numbers_with_small_groups_hidden(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    await _tree(console_services, org_a)
    await seed_pulse_round(
        console_services, org_a.id, {"team-a": 6, "team-b": 6, "team-c": 2}, datetime(2026, 2, 2, tzinfo=UTC)
    )
    await seed_pulse_round(
        console_services,
        org_a.id,
        {"team-a": 7, "team-b": 6, "team-c": 2},
        datetime(2026, 2, 16, tzinfo=UTC),
        "5",
    )
    secret = console_services.settings.secret_key
    assert secret is not None
    store = SqlPulseStore(console_services.engine, master_key_from(secret.get_secret_value()))
    # February is over: its rounds are released (pooled, the noise drawn once and stored).
    sets = {p.id: p for p in console_services.content.catalog.pulse_sets}
    assert (
        len(await release_due(store, sets, org_a.id, datetime(2026, 3, 1, 1, tzinfo=UTC), OpenDpNoise())) == 1
    )
    viewer = await make_person(console_services, Role.VIEWER, "mt@linde.test", org_a.id)
    await sign_in(client, viewer, clock)
    page = await client.get("/console/o/de-linde/insights")
    html = await page.text()
    assert page.status == 200
    # the heading and trend of the management summary, and its numbers in tables, from the stored release
    pulse_set = console_services.content.catalog.pulse_set("wekelijkse-check-in")
    assert pulse_set is not None
    insights = await load_insights(store, pulse_set, org_a.id)
    from html import unescape

    text = unescape(html)
    lines = summary_lines(insights, console_services.content.translator, "nl")
    assert lines[0].strip() in text
    assert lines[-1].strip() in text
    assert "<svg" in html
    latest = insights.latest
    assert latest is not None
    hidden = [c.group.name for c in latest.cells if not c.shown]
    assert hidden == ["Team C"]
    row = html.split("<td>— — Team C</td>", 1)[1].split("</tr>", 1)[0]
    assert "verborgen" in row
    assert "%" not in row
    team_a = html.split("<td>— — Team A</td>", 1)[1].split("</tr>", 1)[0]  # 7 respondents: a band only
    assert re.search(r"<td>\d+–\d+ %</td><td>–</td>", team_a), team_a
    department = text.split("<td>— Zorg</td>", 1)[1].split("</tr>", 1)[0]  # 15: figures with a margin
    assert re.search(r"<td>\d+ % ± \d+</td><td>\d+</td>", department), department
    assert "Per vraag: Zorg" in text


def test_small_counts_are_suppressed_with_a_complement(content) -> None:
    categories = content.catalog.taxonomy.categories
    shown = suppress({"bullying": 7, "workload": 3, "integrity": 6}, categories, "nl")
    by_label = {s.label: s.count for s in shown}
    values = sorted(by_label.values(), key=lambda v: -1 if v is None else v)
    assert values == [None, None, 7]  # the 3 is hidden, and the 6 with it so the 3 cannot be subtracted out
    both_large = suppress({"bullying": 7, "integrity": 6}, categories, "nl")
    assert sorted(s.count for s in both_large if s.count is not None) == [6, 7]
    two_small = suppress({"bullying": 7, "integrity": 2, "workload": 1}, categories, "nl")
    assert sorted(s.count or 0 for s in two_small) == [0, 0, 7]


async def test_report_page_and_pdf(
    client: TestClient,
    console_services: Services,
    clock: FixedClock,
    org_a: Organisation,
    org_b: Organisation,
) -> None:
    await _tree(console_services, org_a)
    await seed_pulse_round(
        console_services, org_a.id, {"team-a": 6, "team-b": 6}, datetime(2026, 2, 2, tzinfo=UTC)
    )
    await _classify(console_services, org_a, "bullying", 7, date(2026, 2, 1))
    await _classify(console_services, org_a, "workload", 3, date(2026, 3, 1))
    await _classify(console_services, org_a, "integrity", 6, date(2026, 1, 1))
    await _classify(console_services, org_b, "bullying", 40, date(2026, 2, 1))  # another organisation's
    clock.set(datetime(2026, 7, 2, 8, 0, tzinfo=UTC))  # the first half has ended
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)
    page = await client.get("/console/o/de-linde/report?period=2026-H1")
    html = await page.text()
    assert page.status == 200
    assert "Aantal gesprekken: 16" in html
    # nothing was sent: a sentence instead of an empty prevention chart; the conversations by subject are drawn
    assert html.count("<svg") == 1
    assert "In deze periode is er niets verstuurd en geen teamsessie gehouden." in html
    chart = html.split("<svg", 2)[1]
    assert ">7</text>" in chart  # the one category shown
    assert ">3</text>" not in chart  # the hidden ones are drawn without their count
    assert ">6</text>" not in chart
    assert html.count("minder dan 5") >= 2
    assert "Pesten" in html or "pesten" in html.lower()
    token = await form_token(client, "/console/o/de-linde/report?period=2026-H1")
    saved = await client.post(
        "/console/o/de-linde/report/notes",
        data={
            "csrf_token": token,
            "period": "2026-H1",
            "signals": "Werkdruk in de avonddiensten komt vaak terug.",
            "advice": "Maak roosters samen met de teams.",
        },
        allow_redirects=False,
    )
    assert saved.status == 303
    pdf = await client.get("/console/o/de-linde/report.pdf?period=2026-H1")
    assert pdf.status == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(await pdf.read()))
    assert len(reader.pages) >= 3  # cover, figures, signals and advice
    text = " ".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    assert "Rapportage vertrouwenspersoon Zorggroep De Linde, eerste halfjaar 2026" in flat
    assert "Aantal gesprekken: 16" in flat
    assert "minder dan 5" in flat
    assert "Werkdruk in de avonddiensten komt vaak terug." in flat
    assert "Maak roosters samen met de teams." in flat
    assert "Preventie" in flat
    assert ": 40" not in reader.pages[0].extract_text()  # nothing of the other organisation (16, not 56)

    # a management viewer reads the report and its notes but cannot change them
    viewer = await make_person(console_services, Role.VIEWER, "mt@linde.test", org_a.id)
    async with other_browser(client) as browser:
        await sign_in(browser, viewer, clock)  # type: ignore[arg-type]
        page = await browser.get("/console/o/de-linde/report?period=2026-H1")
        assert "Maak roosters samen met de teams." in await page.text()
        token = await form_token(browser, "/console/o/de-linde/report?period=2026-H1")
        refused = await browser.post(
            "/console/o/de-linde/report/notes", data={"csrf_token": token, "period": "2026-H1", "advice": "x"}
        )
        assert refused.status == 403


def test_overlapping_periods_cannot_be_subtracted() -> None:
    from bot.web.console.report import hidden_everywhere

    first = {"bullying": 7, "integrity": 8}
    second = {"bullying": 6, "integrity": 2}
    year = {"bullying": 13, "integrity": 10}
    hidden = hidden_everywhere([first, second, year])
    # integrity is small in the second half; hiding it only there would let year - first reveal the 2
    assert hidden == {"bullying", "integrity"}
    assert hidden_everywhere([{"a": 9, "b": 7}, {"a": 6, "b": 5}, {"a": 15, "b": 12}]) == set()


async def test_a_total_that_would_reveal_another_period_is_withheld(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    await _classify(console_services, org_a, "bullying", 7, date(2026, 2, 1))
    await _classify(console_services, org_a, "bullying", 3, date(2026, 8, 1))
    clock.set(datetime(2027, 1, 4, 8, 0, tzinfo=UTC))  # both halves have ended
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)
    first = await (await client.get("/console/o/de-linde/report?period=2026-H1")).text()
    second = await (await client.get("/console/o/de-linde/report?period=2026-H2")).text()
    year = await (await client.get("/console/o/de-linde/report?period=2026")).text()
    assert "Aantal gesprekken: niet getoond" in first
    assert "Aantal gesprekken: minder dan 5" in second
    assert "Aantal gesprekken: niet getoond" in year
    for page in (first, second, year):
        assert "Aantal gesprekken: 7" not in page
        assert "Aantal gesprekken: 10" not in page


async def test_conversation_figures_wait_for_the_end_of_the_period_and_for_a_classification(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    """A management viewer polling the report must not see a conversation start (DESIGN §5.7)."""
    from bot.domain.conversations import Classification, Mode
    from bot.security import INSECURE_TEST_ARGON2_PARAMS, Secret
    from bot.web.portal.channel import ConfidentialChannel

    channel = ConfidentialChannel(
        console_services.engine, console_services.settings, clock, argon2=INSECURE_TEST_ARGON2_PARAMS
    )
    await channel.add_counsellor(org_a.id, "Mira", "mira@vp.test", Secret("a passphrase for the test"))
    await _classify(console_services, org_a, "bullying", 6, date(2026, 2, 1))
    viewer = await make_person(console_services, Role.VIEWER, "mt@linde.test", org_a.id)
    await sign_in(client, viewer, clock)

    async def report() -> str:
        return await (await client.get("/console/o/de-linde/report?period=2026-H1")).text()

    before = await report()
    assert "Aantal gesprekken: pas na afloop van de periode (vanaf 01-07-2026)" in before
    started, _code = await channel.service.start(org_a.id, 90, Mode.ANONYMOUS, "Ik wil iets bespreken")
    assert await report() == before  # nothing moves while the period runs

    clock.set(datetime(2026, 7, 2, 8, 0, tzinfo=UTC))
    await sign_in(client, viewer, clock)
    ended = await report()
    assert "Aantal gesprekken: 6" in ended  # the unclassified conversation is not counted
    await channel.store.classify(
        org_a.id, started, Classification("bullying", "spar", "listening"), clock.now().date()
    )
    assert "Aantal gesprekken: 7" in await report()

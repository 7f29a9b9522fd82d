"""The periodic report as a works council receives it: its PDF pages are rendered to images and checked for text
outside the page's margins, and its figures are checked against the database (sessions still to come and
reminders of an open check-in are not "held")."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pdfplumber
import pypdfium2
from aiohttp.test_utils import TestClient
from sqlmodel import col, func, select

from bot.app import Services
from bot.catalog import ContentLibrary
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.tenancy import GroupKind, Organisation
from bot.storage.db import transaction
from bot.storage.tables_conversations import ConversationClassificationRow
from bot.storage.tables_outreach import (
    OutreachDeliveryRow,
    OutreachOccurrenceRow,
    TeamSessionRow,
    TeamSessionSignupRow,
)
from tests.console.helpers import make_person, seed_pulse_round, sign_in

MM = 72 / 25.4  # PDF points per millimetre
INSIDE = 10 * MM  # no text closer to the paper's edge than this


async def _occurrence(
    services: Services, org: Organisation, kind: str, item: str | None, when: datetime, status: str = "sent"
) -> None:
    async with transaction(services.sessions) as session:
        occurrence = OutreachOccurrenceRow(
            organisation_id=org.id, occurs_at=when, send_at=when, kind=kind, item_id=item, locale="nl"
        )
        session.add(occurrence)
        await session.flush()
        session.add(
            OutreachDeliveryRow(
                organisation_id=org.id,
                occurrence_id=occurrence.id,
                platform="slack",
                workspace_id="T1",
                target_kind="channel",
                address="C1",
                status=status,
                not_before=when,
                sent_at=when if status == "sent" else None,
            )
        )


async def _session(
    services: Services, org: Organisation, starts: datetime, signups: int, *, cancelled: bool = False
) -> None:
    async with transaction(services.sessions) as session:
        row = TeamSessionRow(
            organisation_id=org.id,
            title="Intervisie",
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            place="Zaal 2",
            audience='{"groups": ["zorg"]}',
            cancelled=cancelled,
        )
        session.add(row)
        await session.flush()
        for person in range(signups):
            session.add(TeamSessionSignupRow(session_id=row.id, person=f"hash-{person}"))


async def _seed(services: Services, org: Organisation) -> None:
    repo = services.organisations
    await repo.add_group(org.id, "Zorg", GroupKind.DEPARTMENT, None)
    for name in ("Team A", "Team B"):
        await repo.add_group(org.id, name, GroupKind.TEAM, "zorg")
    await seed_pulse_round(services, org.id, {"team-a": 6, "team-b": 6}, datetime(2026, 1, 12, tzinfo=UTC))
    await seed_pulse_round(
        services, org.id, {"team-a": 7, "team-b": 6}, datetime(2026, 2, 2, tzinfo=UTC), "5"
    )
    day = datetime(2026, 1, 5, 9, tzinfo=UTC)
    await _occurrence(services, org, "column", "grenzen", day)
    await _occurrence(services, org, "column", "micro-agressies", day + timedelta(weeks=4))
    await _occurrence(services, org, "column", "speak-up", day + timedelta(weeks=5), status="failed")
    await _occurrence(services, org, "reminder", "respect", day + timedelta(weeks=2))
    await _occurrence(services, org, "session", None, day + timedelta(weeks=3))
    await _occurrence(services, org, "pulse", "wekelijkse-check-in", day + timedelta(weeks=4))
    await _occurrence(
        services, org, "pulse", "reminder:wekelijkse-check-in", day + timedelta(weeks=4, days=2)
    )
    await _session(services, org, datetime(2026, 2, 10, 13, tzinfo=UTC), 3)  # held
    await _session(services, org, datetime(2026, 2, 20, 13, tzinfo=UTC), 4, cancelled=True)
    await _session(services, org, datetime(2026, 5, 12, 13, tzinfo=UTC), 2)  # still to come (clock: 2 March)
    for category, count, month in (("bullying", 7, 2), ("workload", 3, 3), ("integrity", 6, 1)):
        async with transaction(services.sessions) as session:
            for _ in range(count):
                session.add(
                    ConversationClassificationRow(
                        organisation_id=org.id,
                        month=date(2026, month, 1),
                        category=category,
                        contact_type="spar",
                        follow_up="listening",
                    )
                )


async def _expected(services: Services, org_id: UUID, now: datetime) -> dict[str, int]:
    """The figures straight from the tables, written out here rather than taken from the report's code."""
    start, end = datetime(2025, 12, 31, 23, tzinfo=UTC), datetime(2026, 6, 30, 22, tzinfo=UTC)
    async with services.sessions() as session:
        occurrences = (
            await session.exec(
                select(OutreachOccurrenceRow)
                .where(col(OutreachOccurrenceRow.organisation_id) == org_id)
                .where(col(OutreachOccurrenceRow.send_at) >= start)
                .where(col(OutreachOccurrenceRow.send_at) < end)
            )
        ).all()
        sent = {
            row.occurrence_id
            for row in (
                await session.exec(
                    select(OutreachDeliveryRow).where(col(OutreachDeliveryRow.status) == "sent")
                )
            ).all()
        }
        held = [
            s.id
            for s in (
                await session.exec(
                    select(TeamSessionRow).where(col(TeamSessionRow.organisation_id) == org_id)
                )
            ).all()
            if not s.cancelled
            and start <= s.starts_at.replace(tzinfo=UTC) < end
            and s.ends_at.replace(tzinfo=UTC) <= now
        ]
        signups = (
            await session.exec(
                select(func.count())
                .select_from(TeamSessionSignupRow)
                .where(col(TeamSessionSignupRow.session_id).in_(held))
            )
        ).one()

    def sent_of(kind: str) -> int:
        return sum(
            1
            for o in occurrences
            if o.kind == kind and o.id in sent and not (o.item_id or "").startswith("reminder:")
        )

    return {
        "column": sent_of("column"),
        "reminder": sent_of("reminder"),
        "session": sent_of("session"),
        "pulse": sent_of("pulse"),
        "held": len(held),
        "signups": int(signups),
    }


def _overlapping(chars: list[dict[str, Any]]) -> list[str]:
    """Characters on one line that run into the next one (a label over its value, a title over a number)."""
    lines: dict[int, list[dict[str, Any]]] = {}
    for c in chars:
        if c["text"].strip():
            lines.setdefault(round(c["top"]), []).append(c)
    found = []
    for line in lines.values():
        line.sort(key=lambda c: c["x0"])
        for before, after in itertools.pairwise(line):
            if after["x0"] < before["x1"] - 1.0:
                found.append(before["text"] + after["text"])
    return found


def _pages_as_images(pdf: bytes, folder: Path) -> list[Path]:
    document = pypdfium2.PdfDocument(pdf)
    paths = []
    for number in range(len(document)):
        image = document[number].render(scale=100 / 72).to_pil()
        path = folder / f"page-{number + 1}.png"
        image.save(path)
        paths.append(path)
    document.close()
    return paths


def _ink_in_outer_strips(path: Path) -> list[tuple[int, int]]:
    """Dark pixels in the outer 8 mm left, right and bottom of a page image (the cover's top band aside)."""
    from PIL import Image

    with Image.open(path) as image:
        grey = image.convert("L")
        width, height = grey.size
        strip = round(width * 8 / 210)
        band = round(height * 15 / 297)
        pixels = grey.load()
        assert pixels is not None
        found = []
        for y in range(band, height):
            xs = range(width) if y >= height - strip else [*range(strip), *range(width - strip, width)]
            for x in xs:
                value = pixels[x, y]
                if isinstance(value, int) and value < 160:
                    found.append((x, y))
        return found


def _fits_its_pages(pdf: bytes, folder: Path) -> list[str]:
    """Every text box lies inside the page, at least 10 mm from each edge, and the rendered pages show nothing
    cut off at the paper's edge. Returns each page's text."""
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        texts = [page.extract_text() or "" for page in document.pages]
        for number, page in enumerate(document.pages, start=1):
            outside = [
                c["text"]
                for c in page.chars
                if c["x0"] < INSIDE
                or c["x1"] > page.width - INSIDE
                or c["top"] < INSIDE
                or c["bottom"] > page.height - INSIDE
            ]
            assert outside == [], f"page {number}: text outside the margins: {''.join(outside)[:80]}"
            assert _overlapping(page.chars) == [], f"page {number}: text written over other text"
    images = _pages_as_images(pdf, folder)
    assert len(images) >= 3
    for path in images:
        assert _ink_in_outer_strips(path) == [], f"{path.name}: ink at the edge of the paper"
    return texts


async def test_report_pdf_fits_its_pages_and_matches_the_database(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation, tmp_path: Path
) -> None:
    await _seed(console_services, org_a)
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vera@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)
    expected = await _expected(console_services, org_a.id, clock.now())
    assert expected == {"column": 2, "reminder": 1, "session": 1, "pulse": 1, "held": 1, "signups": 3}

    response = await client.get("/console/o/de-linde/report.pdf?period=2026-H1")
    assert response.status == 200
    pdf = await response.read()

    texts = _fits_its_pages(pdf, tmp_path)

    cover = " ".join(texts[0].split())
    assert "Rapportage van de vertrouwenspersoon" in cover
    assert "Zorggroep De Linde" in cover
    assert "eerste halfjaar 2026" in cover
    assert "1 januari 2026 tot en met 30 juni 2026" in cover  # Dutch dates, not ISO
    assert counsellor.account.display_name in cover
    body = " ".join(" ".join(texts[1:]).split())
    # the figures as the database has them: future sessions and reminders of a check-in are not "held"
    assert f"Columns verstuurd {expected['column']}" in body
    assert f"Herinneringen aan de gedragscode verstuurd {expected['reminder']}" in body
    assert f"Teamsessies aangekondigd {expected['session']}" in body
    assert f"Check-ins gehouden {expected['pulse']}" in body
    assert f"Inschrijvingen voor teamsessies {expected['signups']}" in body
    assert "1 teamsessie gehouden, met 3 inschrijvingen." in body
    # conversation figures only once the period has ended (DESIGN 5.7): on 2 March none yet
    assert "Aantal gesprekken: pas na afloop van de periode" in body
    assert "2026-01-12" not in body  # round dates written out: "12 jan."
    assert "12-01" not in body

    page = await (await client.get("/console/o/de-linde/report?period=2026-H1")).text()
    assert f"Check-ins gehouden: {expected['pulse']}" in page
    assert "1 teamsessie gehouden, met 3 inschrijvingen." in page

    # after the half-year: the conversation figures, in the PDF as on the page
    clock.set(datetime(2026, 7, 2, 8, tzinfo=UTC))
    await sign_in(client, counsellor, clock)
    pdf = await (await client.get("/console/o/de-linde/report.pdf?period=2026-H1")).read()
    body = " ".join(" ".join(_fits_its_pages(pdf, tmp_path)[1:]).split())
    assert "Aantal gesprekken: 16" in body
    # every subject in the table, the small ones as "minder dan 5" just as on the web page
    assert "Pesten 7" in body or "pesten 7" in body.lower()
    assert body.count("minder dan 5") >= 3
    assert "Niet getoond" not in body
    page = await (await client.get("/console/o/de-linde/report?period=2026-H1")).text()
    assert page.count("minder dan 5") >= 3


def test_long_names_many_subjects_and_long_notes_stay_on_the_paper(
    content: ContentLibrary, tmp_path: Path
) -> None:
    from bot.storage.console_content import ReportNote
    from bot.web.console.report import Period, ReportData, Shown, Trend
    from bot.web.console.report_pdf import report_pdf

    period = Period.parse("2026", date(2026, 3, 1))
    categories = content.catalog.taxonomy.categories
    counts = [12, None, 8, None, 23, 6, None, 5, 9, 14, 7, 30]
    long_name = (
        "Stichting Samenwerkende Zorgorganisaties Regio Midden- en West-Brabant (Thuiszorg en Wijkverpleging)"
    )
    paragraph = (
        "Medewerkers uit verschillende afdelingen noemen de toon in overdrachten tussen diensten. " * 6
    )
    organisation = Organisation(uuid4(), "brabant", long_name, "Europe/Amsterdam", "en", 90)
    data = ReportData(
        organisation=organisation,
        period=period,
        activity=tuple(Shown(f"Activity {n}", 1000 + n) for n in range(4)),
        sessions_held=1,
        signups=1,
        trends=(
            Trend(
                "Weekly check-in",
                ((date(2026, 1, 5), 0.7), (date(2026, 1, 12), None), (date(2026, 2, 2), 0.8)),
            ),
        ),
        conversations_total=120,
        conversations_from=None,
        total_withheld=False,
        categories=tuple(
            Shown(c.label.in_locale("en") + " (and a long explanation of the subject)", n)
            for c, n in zip(categories, counts, strict=False)
        ),
        contact_types=(Shown("Spar", 100), Shown("Advice", None)),
        follow_ups=(Shown("Listening", 120),),
        note=ReportNote(organisation.id, period.start, period.end, "\n".join([paragraph] * 12), paragraph),
        counsellors=("Vera de Vries-van den Heuvel", "Daan Jansen", "Mira Bakker"),
    )
    pdf = report_pdf(
        data,
        lambda key, **params: content.translator.t("en", key, **params),
        "en",
        datetime(2027, 1, 4, tzinfo=UTC),
    )
    texts = _fits_its_pages(pdf, tmp_path)
    flat = " ".join(" ".join(texts).split())
    assert "1 team session held, with 1 sign-up." in flat
    assert "January 1, 2026 to December 31, 2026" in flat
    assert "1,003" in flat
    assert flat.count("fewer than 5") >= 4
    assert "Confidential counsellors Vera de Vries-van den Heuvel, Daan Jansen, Mira Bakker" in flat


def test_count_axes_are_whole_numbers_from_zero() -> None:
    from bot.reporting.report_charts import Bar, count_figure

    for bars in (
        [Bar("a", 0, "0"), Bar("b", 1, "1"), Bar("c", 0, "0")],
        [Bar("a", 0, "0"), Bar("b", None, "minder dan 5")],
        [Bar("a", 1234, "1.234"), Bar("b", 3, "3")],
    ):
        axes = count_figure(bars, "aantal", 5, str).axes[0]
        low, high = axes.get_xlim()
        assert low == 0
        assert high >= 1
        ticks = [t for t in axes.get_xticks() if low <= t <= high]
        assert ticks
        assert all(float(t).is_integer() and t >= 0 for t in ticks)

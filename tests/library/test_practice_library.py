"""A practice-wide library: a column written once, added to several organisations and sent at one local time in
each (its own occurrence, in its own time zone and language); each organisation shows which of its items come
from the practice library, and an edit of the practice item reaches every organisation at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.delivery import ColumnPost
from bot.domain.tenancy import Organisation, Platform
from bot.storage.outbox import occurrence_from_row
from bot.storage.tables_outreach import OutreachOccurrenceRow
from bot.web.console.outreach_bridge import outreach_of
from tests.console.helpers import csrf_from, form_token, make_person, sign_in


async def _occurrences(services: Services) -> list[OutreachOccurrenceRow]:
    async with services.sessions() as session:
        rows = await session.exec(select(OutreachOccurrenceRow).order_by(col(OutreachOccurrenceRow.send_at)))
        return list(rows.all())


async def test_written_once_sent_to_several_organisations_each_in_its_own_zone_and_language(  # noqa: PLR0915
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    repo = console_services.organisations
    london = await repo.add_organisation("Harbour Care", "harbour", "Europe/London", "en", 90)
    secret = await repo.add_organisation("Niet van ons", "elders", "Europe/Amsterdam", "nl", 90)
    for org in (org_a, london, secret):
        await repo.bind_channel(
            org.id, org.slug, Platform.SLACK, f"T-{org.slug}", f"C-{org.slug}", "algemeen"
        )
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    from bot.storage.accounts import SqlAccountRepository

    await SqlAccountRepository(console_services.sessions).assign_counsellor(counsellor.account.id, london.id)
    await sign_in(client, counsellor, clock)

    token = await form_token(client, "/console/library/new?kind=column")
    created = await client.post(
        "/console/library/new?kind=column",
        data={
            "csrf_token": token,
            "title_nl": "Praktijkcolumn over grenzen",
            "body_nl": "Eerste versie.",
            "reading_minutes": "2",
        },
        allow_redirects=False,
    )
    assert created.status == 303, await created.text()
    item_path = created.headers["Location"].split("?")[0]

    page = await (await client.get(item_path)).text()
    assert "Harbour Care" in page
    assert "Zorggroep De Linde" in page
    assert "Niet van ons" not in page  # not one of hers
    sent = await client.post(
        item_path + "/organisations",
        data={
            "csrf_token": csrf_from(page),
            "organisation": ["de-linde", "harbour", "elders"],
            "action": "at",
            "at": "2026-03-09T09:00",
        },
        allow_redirects=False,
    )
    assert sent.status == 303
    assert "queued=" in sent.headers["Location"]
    assert sorted(sent.headers["Location"].split("queued=")[1].split("%2C")) == ["de-linde", "harbour"]

    rows = await _occurrences(console_services)
    assert [(r.organisation_id, r.locale) for r in rows] == [(org_a.id, "nl"), (london.id, "en")]
    # 09:00 on each organisation's own clock: 08:00 UTC in Amsterdam, 09:00 UTC in London
    assert [r.send_at.replace(tzinfo=UTC) for r in rows] == [
        datetime(2026, 3, 9, 8, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 9, 0, tzinfo=UTC),
    ]

    # each organisation shows where the item comes from
    content = await (await client.get("/console/o/harbour/content")).text()
    assert "uit de praktijkbibliotheek" in content
    assert "Praktijkcolumn over grenzen" in content

    # one edit reaches every organisation's occurrence; the copy itself is edited in the practice library
    token = await form_token(client, item_path)
    saved = await client.post(
        item_path,
        data={
            "csrf_token": token,
            "title_nl": "Praktijkcolumn over grenzen",
            "title_en": "Setting boundaries",
            "body_nl": "Tweede versie.",
            "body_en": "Second version.",
            "reading_minutes": "2",
        },
        allow_redirects=False,
    )
    assert saved.status == 303
    outreach = outreach_of(console_services)
    for row in rows:
        post = await outreach.posts.build(occurrence_from_row(row))
        assert isinstance(post, ColumnPost)
        assert post.column.body.in_locale(row.locale) == (
            "Tweede versie." if row.locale == "nl" else "Second version."
        )
    copy_id = str(rows[1].item_id).removeprefix("own:")
    uuid.UUID(copy_id)
    edit_page = await (await client.get(f"/console/o/harbour/content/own/{copy_id}")).text()
    assert "komt uit de praktijkbibliotheek" in edit_page
    refused = await client.post(
        f"/console/o/harbour/content/own/{copy_id}",
        data={"csrf_token": csrf_from(edit_page), "title_nl": "Eigen versie", "body_nl": "x"},
        allow_redirects=False,
    )
    assert refused.status == 303
    assert refused.headers["Location"] == item_path
    post = await outreach.posts.build(occurrence_from_row(rows[1]))
    assert isinstance(post, ColumnPost)
    assert post.column.title.nl == "Praktijkcolumn over grenzen"

    # deleting asks for the box that names what it affects, then removes it from every organisation
    page = await (await client.get(item_path)).text()
    assert "ook verwijderen bij de 2 organisaties die het hebben" in page
    refused = await client.post(
        item_path + "/delete", data={"csrf_token": csrf_from(page)}, allow_redirects=False
    )
    assert refused.headers["Location"].endswith("?problem=confirm")
    assert "Praktijkcolumn over grenzen" in await (await client.get("/console/o/harbour/content")).text()
    removed = await client.post(
        item_path + "/delete", data={"csrf_token": csrf_from(page), "confirm": "1"}, allow_redirects=False
    )
    assert removed.headers["Location"] == "/console/library"
    assert "Praktijkcolumn over grenzen" not in await (await client.get("/console/o/harbour/content")).text()
    assert await outreach.posts.build(occurrence_from_row(rows[1])) is None


async def test_one_rule_becomes_a_schedule_in_each_organisations_own_zone_and_language(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    repo = console_services.organisations
    london = await repo.add_organisation("Harbour Care", "harbour", "Europe/London", "en", 90)
    admin = await make_person(console_services, Role.ADMIN, "beheer@praktijk.test")
    await sign_in(client, admin, clock)
    token = await form_token(client, "/console/library/new?kind=reminder")
    created = await client.post(
        "/console/library/new?kind=reminder",
        data={
            "csrf_token": token,
            "title_nl": "Zo gaan we met elkaar om",
            "body_nl": "Lees de code.",
            "slug": "omgang",
        },
        allow_redirects=False,
    )
    item_path = created.headers["Location"].split("?")[0]
    page = await (await client.get(item_path)).text()

    refused = await client.post(
        item_path + "/organisations",
        data={
            "csrf_token": csrf_from(page),
            "organisation": ["de-linde", "harbour"],
            "action": "every",
            "recurrence": "af en toe",
        },
        allow_redirects=False,
    )
    assert "problem=recurrence" in refused.headers["Location"]
    made = await client.post(
        item_path + "/organisations",
        data={
            "csrf_token": csrf_from(page),
            "organisation": ["de-linde", "harbour"],
            "action": "every",
            "recurrence": "elke maandag om 09:30",
        },
        allow_redirects=False,
    )
    assert "scheduled=" in made.headers["Location"]
    outreach = outreach_of(console_services)
    for org in (org_a, london):
        [schedule] = await outreach.schedules.list_schedules(org)
        assert (schedule.name, schedule.timezone, schedule.locale) == (
            "praktijk-omgang",
            org.timezone,
            org.locale,
        )
        assert schedule.recurrence.text == "elke maandag om 09:30"
        assert str(schedule.item_id).startswith("own:")
    page = await (await client.get(made.headers["Location"])).text()
    assert "Vast schema gemaakt bij" in page
    # the same again makes no second schedule
    again = await client.post(
        item_path + "/organisations",
        data={
            "csrf_token": csrf_from(page),
            "organisation": ["harbour"],
            "action": "every",
            "recurrence": "elke maandag om 09:30",
        },
        allow_redirects=False,
    )
    assert "exists=harbour" in again.headers["Location"]

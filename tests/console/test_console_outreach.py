"""Console-made items travel through the same outbox: an own column published now, a session planned and
cancelled (the audience is told)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.delivery import ColumnPost, ReminderPost
from bot.domain.outreach import What
from bot.domain.sessions import SessionAnnouncementPost
from bot.domain.tenancy import GroupKind, Organisation, Platform
from bot.storage.outbox import occurrence_from_row
from bot.storage.tables_outreach import OutreachDeliveryRow, OutreachOccurrenceRow
from bot.web.console.outreach_bridge import outreach_of
from tests.console.helpers import form_token, make_person, sign_in


async def _occurrences(services: Services, org: Organisation) -> list[OutreachOccurrenceRow]:
    async with services.sessions() as session:
        rows = await session.exec(
            select(OutreachOccurrenceRow)
            .where(col(OutreachOccurrenceRow.organisation_id) == org.id)
            .order_by(col(OutreachOccurrenceRow.created_at))
        )
        return list(rows.all())


async def test_own_column_published_now_and_a_session_planned_then_cancelled(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    repo = console_services.organisations
    await repo.add_group(org_a.id, "Zorg", GroupKind.DEPARTMENT, None)
    await repo.bind_channel(org_a.id, "zorg", Platform.SLACK, "T1", "C1", "zorg")
    await repo.bind_channel(org_a.id, "zorg", Platform.TEAMS, "tenant", "19:abc", "zorg")
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)

    token = await form_token(client, "/console/o/de-linde/content/new?kind=column")
    saved = await client.post(
        "/console/o/de-linde/content/new?kind=column",
        data={
            "csrf_token": token,
            "title_nl": "Eigen column",
            "body_nl": "Tekst van **ons**.",
            "reading_minutes": "3",
        },
        allow_redirects=False,
    )
    assert saved.status == 303
    item_path = saved.headers["Location"].split("?")[0]
    item_id = "own:" + item_path.rsplit("/", 1)[1]

    token = await form_token(client, "/console/o/de-linde/schedules/new")
    published = await client.post(
        "/console/o/de-linde/schedules/new",
        data={
            "csrf_token": token,
            "what": "column",
            "item": item_id,
            "groups": "zorg",
            "platforms": ["slack", "teams"],
            "action": "now",
        },
        allow_redirects=False,
    )
    assert published.status == 303
    assert published.headers["Location"].endswith("?published=2")
    outreach = outreach_of(console_services)
    [row] = await _occurrences(console_services, org_a)
    post = await outreach.posts.build(occurrence_from_row(row))
    assert isinstance(post, ColumnPost)
    assert post.column.title.nl == "Eigen column"
    assert post.column.reading_minutes == 3
    async with console_services.sessions() as session:
        targets = (
            await session.exec(
                select(OutreachDeliveryRow.address).where(col(OutreachDeliveryRow.occurrence_id) == row.id)
            )
        ).all()
    assert sorted(targets) == ["19:abc", "C1"]

    # a team session: announced now, reminded the day before; cancelling tells the same audience
    token = await form_token(client, "/console/o/de-linde/sessions")
    planned = await client.post(
        "/console/o/de-linde/sessions",
        data={
            "csrf_token": token,
            "title": "Intervisie",
            "day": "2026-03-12",
            "start": "14:00",
            "end": "15:00",
            "place": "Kantine",
            "groups": "zorg",
        },
        allow_redirects=False,
    )
    assert planned.status == 303
    assert planned.headers["Location"].endswith("notice=planned")
    rows = await _occurrences(console_services, org_a)
    kinds = [r.kind for r in rows]
    assert kinds.count(What.SESSION.value) == 1
    assert kinds.count(What.SESSION_REMINDER.value) == 1
    announcement = next(r for r in rows if r.kind == What.SESSION.value)
    assert isinstance(await outreach.posts.build(occurrence_from_row(announcement)), SessionAnnouncementPost)

    page = await client.get("/console/o/de-linde/sessions")
    assert "Intervisie" in await page.text()
    session_id = announcement.item_id
    token = await form_token(client, "/console/o/de-linde/sessions")
    cancelled = await client.post(
        f"/console/o/de-linde/sessions/{session_id}/cancel", data={"csrf_token": token}, allow_redirects=False
    )
    assert cancelled.status == 303
    assert cancelled.headers["Location"].endswith("notice=cancelled")
    rows = await _occurrences(console_services, org_a)
    notice = next(r for r in rows if r.item_id == f"cancelled:{session_id}")
    post = await outreach.posts.build(occurrence_from_row(notice))
    assert isinstance(post, ReminderPost)
    assert post.reminder.title.nl == "Afgelast: Intervisie"
    assert "12-03-2026 14:00" in post.reminder.body.nl
    # the announcement and the reminder now build nothing: the outbox drops them
    assert await outreach.posts.build(occurrence_from_row(announcement)) is None


async def test_calendar_settings_and_a_skipped_holiday(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)
    token = await form_token(client, "/console/o/de-linde/schedules/new")
    made = await client.post(
        "/console/o/de-linde/schedules/new",
        data={
            "csrf_token": token,
            "what": "reminder",
            "item": "",
            "groups": "de-linde",
            "name": "maandag",
            "recurrence": "every monday at 09:30",
            "when_blocked": "skip",
            "action": "schedule",
        },
        allow_redirects=False,
    )
    assert made.status == 303
    page = await (await client.get("/console/o/de-linde/calendar")).text()
    day = page.split('data-date="2026-03-09"', 1)[1].split("</div>\n<div", 1)[0]
    assert "entry planned" in day
    token = await form_token(client, "/console/o/de-linde/calendar")
    saved = await client.post(
        "/console/o/de-linde/calendar/settings",
        data={
            "csrf_token": token,
            "quiet_start": "19:00",
            "quiet_end": "07:30",
            "skip_weekends": "1",
            "holidays": "2026-03-09, 2026-12-25",
        },
        allow_redirects=False,
    )
    assert saved.headers["Location"].endswith("settings=saved")
    page = await (await client.get("/console/o/de-linde/calendar")).text()
    day = page.split('data-date="2026-03-09"', 1)[1].split("</div>\n<div", 1)[0]
    assert "entry skipped" in day
    assert "holiday" in day
    assert 'value="2026-03-09, 2026-12-25"' in page
    bad = await client.post(
        "/console/o/de-linde/calendar/settings",
        data={"csrf_token": token, "quiet_start": "25:99", "quiet_end": "07:30", "holidays": ""},
        allow_redirects=False,
    )
    assert bad.headers["Location"].endswith("settings=invalid")

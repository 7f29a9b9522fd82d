"""Console-made items travel through the same outbox: an own column published now, a session planned and
cancelled (the audience is told)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.delivery import ColumnPost, DeliveryError, DeliveryFailureKind, ReminderPost
from bot.domain.failures import Failure, FailureCode
from bot.domain.outreach import What
from bot.domain.team_sessions import SessionAnnouncementPost
from bot.domain.tenancy import GroupKind, Organisation, Platform
from bot.storage.outbox import occurrence_from_row
from bot.storage.tables_outreach import OutreachDeliveryRow, OutreachOccurrenceRow
from bot.web.console.outreach_bridge import outreach_of
from scheduler.worker import OutboxWorker, PlatformDelivery, WorkerConfig
from tests.console.helpers import form_token, make_person, sign_in
from tests.console.planning_support import publish_now
from tests.outreach.fakes import FakeGateway, FakeRenderer


async def _occurrences(services: Services, org: Organisation) -> list[OutreachOccurrenceRow]:
    async with services.sessions() as session:
        rows = await session.exec(
            select(OutreachOccurrenceRow)
            .where(col(OutreachOccurrenceRow.organisation_id) == org.id)
            .order_by(col(OutreachOccurrenceRow.created_at))
        )
        return list(rows.all())


async def test_own_column_published_now_and_a_session_planned_then_cancelled(  # noqa: PLR0915 - one story
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

    confirm, status_page = await publish_now(
        client,
        "de-linde",
        {
            "what": "column",
            "item": item_id,
            "groups": "zorg",
            "platforms": ["slack", "teams"],
            "action": "now",
        },
    )
    assert "naar #zorg en zorg" in confirm  # the Slack channel by its name, then the Teams channel
    assert status_page.startswith("/console/o/de-linde/deliveries?occurrence=")
    status = await (await client.get(status_page)).text()
    assert "In de wachtrij gezet voor 2 kanalen en personen" in status  # queued, not "sent"
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
    fields = {
        "csrf_token": token,
        "title": "Intervisie",
        "day": "2026-03-12",
        "start": "14:00",
        "end": "15:00",
        "place": "Kantine",
        "groups": "zorg",
    }
    # planning announces at once: the first step only says to whom, and stores or sends nothing
    asked = await client.post("/console/o/de-linde/sessions", data=fields, allow_redirects=False)
    assert asked.status == 200
    assert "wordt nu aangekondigd bij #zorg en zorg" in await asked.text()
    assert [r.kind for r in await _occurrences(console_services, org_a)] == [What.COLUMN.value]
    planned = await client.post(
        "/console/o/de-linde/sessions", data={**fields, "confirm": "1"}, allow_redirects=False
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
        f"/console/o/de-linde/sessions/{session_id}/cancel",
        data={"csrf_token": token, "confirm": "1"},
        allow_redirects=False,
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
    assert "overgeslagen: feestdag of vrije dag" in day  # the reason in the console's words
    assert "holiday" not in day
    english = await (await client.get("/console/o/de-linde/calendar?lang=en")).text()
    assert (
        "skipped: holiday or day off"
        in english.split('data-date="2026-03-09"', 1)[1].split("</div>\n<div", 1)[0]
    )
    assert 'name="holiday" value="2026-03-09"' in page
    assert 'name="holiday" value="2026-12-25"' in page
    bad = await client.post(
        "/console/o/de-linde/calendar/settings",
        data={"csrf_token": token, "quiet_start": "25:99", "quiet_end": "07:30", "holidays": ""},
        allow_redirects=False,
    )
    assert bad.headers["Location"].endswith("settings=invalid")


async def test_the_calendar_shows_what_failed_and_why(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    """A reminder sent now to a department with two channels: Teams takes it, Slack says the channel is
    archived (a permanent failure). The calendar's day and the list of what was sent say which failed and why."""
    repo = console_services.organisations
    await repo.add_group(org_a.id, "Zorg", GroupKind.DEPARTMENT, None)
    await repo.bind_channel(org_a.id, "zorg", Platform.SLACK, "T1", "C-OUD", "oud-kanaal")
    await repo.bind_channel(org_a.id, "zorg", Platform.TEAMS, "tenant", "19:abc", "zorg")
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)
    reminder = console_services.content.catalog.reminders[0]
    _confirm, status_page = await publish_now(
        client,
        "de-linde",
        {"what": "reminder", "item": reminder.id, "groups": "zorg", "platforms": ["slack", "teams"]},
    )
    assert status_page.startswith("/console/o/de-linde/deliveries?occurrence=")
    outreach = outreach_of(console_services)
    slack, teams = FakeGateway(Platform.SLACK), FakeGateway(Platform.TEAMS)
    # as the Slack gateway reports it: the technical reason and its code
    slack.fail(
        "C-OUD",
        DeliveryError(
            DeliveryFailureKind.PERMANENT,
            "chat.postMessage: is_archived",
            failure=Failure(FailureCode.CHANNEL_ARCHIVED),
        ),
    )
    worker = OutboxWorker(
        outreach.outbox,
        {
            Platform.SLACK: PlatformDelivery(FakeRenderer(Platform.SLACK), slack),
            Platform.TEAMS: PlatformDelivery(FakeRenderer(Platform.TEAMS), teams),
        },
        outreach.posts,
        clock,
        config=WorkerConfig(rate_per_second=1000, backoff_base=0.01, poll_interval=0.05),
    )
    assert await worker.drain() == 2
    assert slack.addresses() == []
    assert teams.addresses() == ["19:abc"]

    # The outbox keeps the technical reason for operators; the console says what happened and what to do.
    async with console_services.sessions() as session:
        errors = (await session.exec(select(OutreachDeliveryRow.error))).all()
        codes = (await session.exec(select(OutreachDeliveryRow.failure_code))).all()
    assert "chat.postMessage: is_archived" in errors
    assert "channel_archived" in codes  # what the console reads: a code, not the reason
    for lang, failed, why in (
        (
            "nl",
            "mislukt",
            "Het kanaal is gearchiveerd. Koppel de groep aan een ander kanaal of verwijder de koppeling.",
        ),
        ("en", "failed", "The channel is archived. Link the group to another channel or remove the link."),
    ):
        page = await (await client.get(f"/console/o/de-linde/calendar?lang={lang}")).text()
        assert "is_archived" not in page
        assert "chat.postMessage" not in page
        today = page.split('data-date="2026-03-02"', 1)[1].split("</div>\n<div", 1)[0]
        entry = today.split('<span class="entry failed"', 1)[1].split("</span>\n", 1)[0]
        assert f'title="{why}"' in entry
        assert reminder.title.in_locale(lang) in entry
        assert f"({failed}: {why})" in entry  # read out, not only on hover
        recent = page.split('id="h-recent"', 1)[1].split("</section>", 1)[0]
        [row] = [r for r in recent.split("<tr>")[2:] if reminder.title.in_locale(lang) in r]
        cells = [c.split("</td>", 1)[0] for c in row.split("<td>")[1:]]
        assert cells[0] == "2026-03-02 09:00"
        assert cells[2:] == ["1", '<span class="status-bad">1</span>', "0", why]


async def test_every_calendar_day_reads_as_a_full_date(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    """No grid roles without grid keyboard behaviour; each day says its full date to a screen reader (the
    visible number and the weekday columns are hidden from it), and an empty day says so."""
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)
    for lang, monday, sunday in (
        ("nl", "maandag 2 maart 2026", "zondag 5 april 2026: niets gepland"),
        ("en", "Monday 2 March 2026", "Sunday 5 April 2026: nothing planned"),
    ):
        page = await (await client.get(f"/console/o/de-linde/calendar?lang={lang}")).text()
        calendar = page.split('<div class="calendar">', 1)[1].split("</section>", 1)[0]
        assert 'role="grid' not in calendar
        assert 'role="columnheader"' not in calendar
        days = calendar.split('<div class="day')[1:]
        assert len(days) == 35
        assert f'<span class="visually-hidden">{monday}' in days[0]
        assert f'<span class="visually-hidden">{sunday}</span>' in days[-1]
        assert '<div aria-hidden="true"><strong>2</strong>' in days[0]
        assert calendar.count('class="dow" aria-hidden="true"') == 7


@pytest.mark.parametrize(
    ("recurrence", "when_blocked", "english"),
    [
        ("cron 0 9 31 2 *", "skip", "those moments do not exist"),  # 31 February
        ("every saturday at 10:00", "skip", "falls in quiet hours, a weekend or a holiday"),
    ],
    ids=["never fires", "always blocked"],
)
async def test_a_schedule_that_can_never_post_is_refused_as_by_the_cli(
    client: TestClient,
    console_services: Services,
    clock: FixedClock,
    org_a: Organisation,
    recurrence: str,
    when_blocked: str,
    english: str,
) -> None:
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)
    token = await form_token(client, "/console/o/de-linde/schedules/new")
    refused = await client.post(
        "/console/o/de-linde/schedules/new?lang=en",
        data={
            "csrf_token": token,
            "what": "reminder",
            "item": "",
            "groups": "de-linde",
            "name": "nooit",
            "recurrence": recurrence,
            "when_blocked": when_blocked,
            "action": "schedule",
        },
        allow_redirects=False,
    )
    assert refused.status == 400
    assert english in await refused.text()
    outreach = console_services.outreach
    assert outreach is not None
    assert await outreach.schedules.list_schedules(org_a) == []

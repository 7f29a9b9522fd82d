"""The console home answers "what needs me?" across all the counsellor's organisations, each item a link."""

from __future__ import annotations

import re
from datetime import timedelta
from uuid import uuid4

from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.conversations import Author, Classification, Mode
from bot.domain.outreach import Audience
from bot.domain.team_sessions import TeamSession
from bot.storage.db import transaction
from bot.storage.tables_outreach import OutreachDeliveryRow, OutreachOccurrenceRow
from bot.web.console.outreach_bridge import outreach_of
from tests.console.helpers import make_person, sign_in
from tests.inbox.support import counsellor_of_two


async def failed_delivery(services: Services, organisation_id: object, days_ago: int) -> None:
    when = services.clock.now() - timedelta(days=days_ago)
    async with transaction(services.sessions) as session:
        occurrence = OutreachOccurrenceRow(
            organisation_id=organisation_id,
            occurs_at=when,
            send_at=when,
            kind="column",
            item_id="x",
            locale="nl",
        )
        session.add(occurrence)
        await session.flush()
        session.add(
            OutreachDeliveryRow(
                organisation_id=organisation_id,
                occurrence_id=occurrence.id,
                platform="slack",
                workspace_id="T1",
                target_kind="channel",
                address=f"C{uuid4().hex[:6]}",
                status="failed",
                not_before=when,
                failure_code="archived",
            )
        )


def section(html: str, slug: str) -> str:
    found = re.search(rf'<section class="card" aria-labelledby="h-needs-{slug}">(.*?)</section>', html, re.S)
    assert found, f"nothing for {slug} on the home page"
    return found.group(1)


async def test_the_home_page_lists_what_needs_the_counsellor_in_every_organisation(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    person, channel, linde, noord = await counsellor_of_two(services)
    waiting, _ = await channel.service.start(linde.id, 90, Mode.ANONYMOUS, "Een")
    answered, _ = await channel.service.start(linde.id, 90, Mode.ANONYMOUS, "Twee")
    await channel.service.write(linde.id, 90, answered, Author.COUNSELLOR, "Dag", 1)
    again, _ = await channel.service.start(noord.id, 90, Mode.ANONYMOUS, "Drie")
    await channel.service.write(noord.id, 90, again, Author.COUNSELLOR, "Dag", 1)
    await channel.service.write(noord.id, 90, again, Author.EMPLOYEE, "Nog iets", 2)
    reported, _ = await channel.service.start(noord.id, 90, Mode.ANONYMOUS, "Vier")
    await channel.service.write(noord.id, 90, reported, Author.COUNSELLOR, "Ontvangen", 1)
    await channel.store.classify(
        noord.id, reported, Classification(follow_up="whistleblowing-report"), clock.now().date()
    )
    await failed_delivery(services, noord.id, days_ago=2)
    await failed_delivery(services, linde.id, days_ago=20)  # long ago: not on the home page
    outreach = outreach_of(services)
    now = clock.now()
    await outreach.team_sessions.add(
        TeamSession(
            id=uuid4(),
            organisation_id=linde.id,
            title="Intervisie",
            description="",
            starts_at=now + timedelta(days=3),
            ends_at=now + timedelta(days=3, hours=1),
            place="Kantine",
            online_url=None,
            audience=Audience(groups=()),
            locale=None,
        )
    )

    await sign_in(client, person, clock)
    html = await (await client.get("/console/")).text()
    assert "Wat vraagt je aandacht?" in html
    linde_part, noord_part = section(html, "de-linde"), section(html, "noord")
    assert "1 gesprek wacht op jou" in linde_part
    assert f'href="/console/o/de-linde/inbox/{waiting}"' in linde_part
    assert f"/inbox/{answered}" not in linde_part  # it waits for the employee: counted, not listed
    assert "1 gesprek wacht op de medewerker" in linde_part
    assert 'href="/console/o/de-linde/inbox?show=waiting_for_employee"' in linde_part
    assert "Intervisie" in linde_part
    assert 'href="/console/o/de-linde/sessions"' in linde_part
    assert "niet worden bezorgd" not in linde_part
    assert f'href="/console/o/noord/inbox/{again}"' in noord_part
    assert "wacht op jou" in noord_part
    assert f'href="/console/o/noord/inbox/{reported}">Ontvangst bevestigen uiterlijk 2026-03-09' in noord_part
    assert "1 bericht kon de afgelopen week niet worden bezorgd" in noord_part
    assert 'href="/console/o/noord/calendar"' in noord_part


async def test_an_administrator_without_a_key_sees_deliveries_and_sessions_not_conversations(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    _person, channel, linde, _noord = await counsellor_of_two(services)
    await channel.service.start(linde.id, 90, Mode.ANONYMOUS, "Een")
    await failed_delivery(services, linde.id, days_ago=1)
    admin = await make_person(services, Role.ADMIN, "beheer@vp.test")
    await sign_in(client, admin, clock)
    html = await (await client.get("/console/")).text()
    part = section(html, "de-linde")
    assert "niet worden bezorgd" in part
    assert "wacht op jou" not in part
    assert "/inbox/" not in part


async def test_nothing_waiting_says_so(client: TestClient, services: Services, clock: FixedClock) -> None:
    person, _channel, _linde, _noord = await counsellor_of_two(services)
    await sign_in(client, person, clock)
    html = await (await client.get("/console/")).text()
    assert "Er wacht nu niets op je." in html


async def test_many_waiting_conversations_are_one_click_away_in_the_inbox(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    person, channel, linde, _noord = await counsellor_of_two(services)
    for n in range(7):
        await channel.service.start(linde.id, 90, Mode.ANONYMOUS, f"Bericht {n}")
    await sign_in(client, person, clock)
    part = section(await (await client.get("/console/")).text(), "de-linde")
    assert "7 gesprekken wachten op jou" in part
    assert part.count('href="/console/o/de-linde/inbox/') == 5
    assert 'href="/console/o/de-linde/inbox?show=needs_you">Alle 7 wachtende gesprekken in de inbox' in part

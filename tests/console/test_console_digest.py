"""The monthly column digest in the console: last month's digest previewed as Slack and Teams would show it."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.outreach import Audience, What
from bot.domain.tenancy import GroupKind, Organisation, Platform
from bot.web.console.outreach_bridge import outreach_of
from scheduler.worker import OutboxWorker, PlatformDelivery, WorkerConfig
from tests.console.helpers import make_person, sign_in
from tests.outreach.fakes import FakeGateway, FakeRenderer


async def test_the_digest_page_previews_last_months_columns(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    repo = console_services.organisations
    await repo.add_group(org_a.id, "Zorg", GroupKind.DEPARTMENT, None)
    await repo.bind_channel(org_a.id, "zorg", Platform.SLACK, "T1", "C1", "zorg")
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)

    outreach = outreach_of(console_services)
    column = console_services.content.catalog.columns[0]
    clock.set(datetime(2026, 2, 10, 9, 0, tzinfo=UTC))
    await outreach.materialiser.publish_now(org_a, What.COLUMN, column.id, Audience(groups=("zorg",)), None)
    worker = OutboxWorker(
        outreach.outbox,
        {Platform.SLACK: PlatformDelivery(FakeRenderer(Platform.SLACK), FakeGateway(Platform.SLACK))},
        outreach.posts,
        clock,
        config=WorkerConfig(rate_per_second=1000),
    )
    assert await worker.drain() == 1
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    await sign_in(client, counsellor, clock)
    assert "Maandoverzicht" in await (await client.get("/console/o/de-linde/content")).text()  # in the menu

    response = await client.get("/console/o/de-linde/digest")
    assert response.status == 200
    page = await response.text()
    assert "De columns van februari 2026" in page
    for platform in ("slack", "teams"):
        assert f'data-platform="{platform}"' in page
    assert page.count(column.title.nl) >= 2  # in both previews
    english = await (await client.get("/console/o/de-linde/digest?preview=en")).text()
    assert "The columns of February 2026" in english

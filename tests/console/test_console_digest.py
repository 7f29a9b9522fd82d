"""The monthly column digest in the console: last month's digest previewed as Slack and Teams would show it."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.outreach import Audience, What
from bot.domain.tenancy import GroupKind, Organisation, Platform
from bot.usecases.schedules import ScheduleProblem, ScheduleRefusedError
from bot.web.console.outreach_bridge import outreach_of
from bot.web.console.pages_schedule import PROBLEM_FIELDS
from scheduler.worker import OutboxWorker, PlatformDelivery, WorkerConfig
from tests.console.helpers import csrf_from, form_token, make_person, sign_in
from tests.outreach.fakes import FakeGateway, FakeRenderer
from tests.support.cli import Cli


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


async def _signed_in_counsellor(
    client: TestClient, services: Services, clock: FixedClock, org: Organisation
) -> None:
    await services.organisations.bind_channel(org.id, "de-linde", Platform.SLACK, "T1", "C1", "linde")
    counsellor = await make_person(services, Role.COUNSELLOR, "vp@praktijk.test", org.id)
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    await sign_in(client, counsellor, clock)


def _digest_form(token: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "name": "maandoverzicht",
        "groups": "de-linde",
        "platforms": "slack",
        "frequency": "monthly",
        "day_of_month": "1",
        "at": "09:00",
        "recurrence": "",
        "when_blocked": "defer",
    }
    return form | changes


async def test_the_digest_is_planned_edited_and_removed_on_its_page(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    await _signed_in_counsellor(client, console_services, clock, org_a)
    schedules = outreach_of(console_services).schedules
    page = "/console/o/de-linde/digest"
    assert "Het maandoverzicht is nog niet ingepland." in await (await client.get(page)).text()

    token = await form_token(client, page)
    planned = await client.post(page, data=_digest_form(token), allow_redirects=False)
    assert planned.status == 303
    assert planned.headers["Location"] == page + "?saved=maandoverzicht"
    [schedule] = await schedules.list_schedules(org_a)
    assert schedule.what is What.DIGEST
    assert schedule.item_id is None
    assert schedule.recurrence.text == "maandelijks op dag 1 om 09:00"
    assert schedule.audience.groups == ("de-linde",)
    listed = html.unescape(await (await client.get(page + "?saved=maandoverzicht")).text())
    assert "Schema 'maandoverzicht' is opgeslagen." in listed
    assert "woensdag 1 april 2026, 09:00" in listed  # the next one: 1 April (1 March has passed)

    # Edited with the schedule form, like any schedule; back on the digest's page.
    edit = "/console/o/de-linde/schedules/maandoverzicht/edit"
    token = await form_token(client, edit)
    edited = await client.post(
        edit, data=_digest_form(token, day_of_month="2", action="schedule"), allow_redirects=False
    )
    assert edited.status == 303
    assert edited.headers["Location"].startswith(page + "?saved=")
    [schedule] = await schedules.list_schedules(org_a)
    assert schedule.recurrence.text == "maandelijks op dag 2 om 09:00"
    assert schedule.what is What.DIGEST

    # Removing asks first: one click only leads to the question.
    remove = "/console/o/de-linde/schedules/maandoverzicht/remove"
    token = await form_token(client, page)
    asked = await client.post(remove, data={"csrf_token": token}, allow_redirects=False)
    assert asked.status == 303
    assert asked.headers["Location"] == remove
    assert len(await schedules.list_schedules(org_a)) == 1
    question = html.unescape(await (await client.get(remove)).text())
    assert "Schema 'maandoverzicht' verwijderen?" in question
    assert "donderdag 2 april 2026, 09:00" in question
    token = csrf_from(question)
    removed = await client.post(remove, data={"csrf_token": token, "confirm": "1"}, allow_redirects=False)
    assert removed.status == 303
    assert removed.headers["Location"] == page + "?removed=maandoverzicht"
    assert await schedules.list_schedules(org_a) == []


@pytest.mark.parametrize(
    ("recurrence", "when_blocked", "problem"),
    [
        ("cron 0 9 31 2 *", "skip", ScheduleProblem.NEVER_FIRES),  # 31 February
        ("maandelijks op dag 1 om 23:00", "skip", ScheduleProblem.ALWAYS_BLOCKED),  # always in quiet hours
        ("monthly on day 3 at 09:00", "defer", ScheduleProblem.NAME_TAKEN),  # planned once already
    ],
    ids=["never fires", "always blocked", "name taken"],
)
async def test_the_cli_and_the_digest_page_refuse_the_same_digest_with_the_same_code(
    client: TestClient,
    console_services: Services,
    clock: FixedClock,
    org_a: Organisation,
    database_url: str,
    tmp_path: Path,
    recurrence: str,
    when_blocked: str,
    problem: ScheduleProblem,
) -> None:
    await _signed_in_counsellor(client, console_services, clock, org_a)
    page = "/console/o/de-linde/digest"
    token = await form_token(client, page)
    schedules = outreach_of(console_services).schedules
    if problem is ScheduleProblem.NAME_TAKEN:
        assert (await client.post(page, data=_digest_form(token), allow_redirects=False)).status == 303
    before = await schedules.list_schedules(org_a)

    cli = Cli(database_url, tmp_path)
    with pytest.raises(ScheduleRefusedError) as refused_by_cli:
        await cli(
            "schedule", "add", "de-linde", "maandoverzicht", "--what", "digest", "--every", recurrence,
            "--to", "group:de-linde", "--when-blocked", when_blocked,
        )  # fmt: skip
    assert refused_by_cli.value.problem is problem

    refused = await client.post(
        page,
        data=_digest_form(token, recurrence=recurrence, when_blocked=when_blocked),
        allow_redirects=False,
    )
    assert refused.status == 400
    _field, key = PROBLEM_FIELDS[problem]
    assert console_services.content.translator.t("nl", key) in html.unescape(await refused.text())
    assert await schedules.list_schedules(org_a) == before

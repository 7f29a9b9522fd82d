"""`vipbot schedule`, `vipbot send` and `vipbot session` against real databases."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.catalog import ContentLibrary
from bot.domain.clock import SystemClock
from bot.domain.outreach import Audience
from bot.domain.tenancy import Platform
from bot.errors import ConfigError, VipbotError
from bot.storage.db import create_engine
from bot.storage.outbox import SqlOutbox
from scheduler.posts import OutreachPosts
from scheduler.service import build_outreach
from scheduler.worker import OutboxWorker, PlatformDelivery, WorkerConfig
from tests.outreach.fakes import FakeGateway, FakeRenderer
from tests.support.cli import Cli


@pytest.fixture
async def cli(database_url: str, engine: AsyncEngine, tmp_path: Path) -> Cli:
    """The CLI on a migrated database (`engine` makes `database_url` one) with an organisation bound to both
    platforms."""
    run = Cli(database_url, tmp_path)
    await run("org", "add", "Zorggroep De Linde", "--slug", "linde")
    await run("org", "bind", "linde", "linde", "--platform", "slack", "--workspace", "T1", "--channel", "C1")
    await run(
        "org",
        "bind",
        "linde",
        "linde",
        "--platform",
        "teams",
        "--workspace",
        "tn",
        "--channel",
        "19:a@thread",
    )
    return run


async def test_schedule_add_list_preview_remove(cli: Cli) -> None:
    code, out = await cli(
        "schedule", "add", "linde", "cols", "--what", "column", "--every", "every other tuesday at 09:30",
        "--to", "group:linde",
    )  # fmt: skip
    assert code == 0
    assert "2 targets" in out
    assert "First post: Tue " in out
    assert "09:30" in out

    code, out = await cli("schedule", "list", "linde")
    assert "cols" in out
    assert "every other tuesday at 09:30" in out

    code, out = await cli("schedule", "preview", "linde", "cols", "--count", "2")
    assert code == 0
    lines = out.splitlines()
    occurrences = [line for line in lines if line.startswith("Tue ")]
    assert len(occurrences) == 2
    first_item = occurrences[0].rsplit(" ", 1)[1]
    assert occurrences[1].rsplit(" ", 1)[1] != first_item  # the rotation moves on
    assert '"type": "header"' in out  # Slack Block Kit
    assert '"type": "AdaptiveCard"' in out  # Teams Adaptive Card

    code, out = await cli("schedule", "remove", "linde", "cols")
    assert code == 0
    code, out = await cli("schedule", "list", "linde")
    assert "No schedules" in out


async def add_x(cli: Cli, every: str, to: str) -> tuple[int, str]:
    return await cli("schedule", "add", "linde", "x", "--what", "column", "--every", every, "--to", to)


async def test_schedules_that_cannot_work_are_refused_clearly(cli: Cli) -> None:
    with pytest.raises(VipbotError, match="can never fire: its times never come"):
        await cli(
            "schedule",
            "add",
            "linde",
            "x",
            "--what",
            "column",
            "--every",
            "cron 0 9 31 2 *",
            "--to",
            "group:linde",
        )
    with pytest.raises(
        VipbotError, match="can never fire: every time falls in quiet hours, a weekend or a holiday"
    ):
        await cli(
            "schedule",
            "add",
            "linde",
            "x",
            "--what",
            "column",
            "--every",
            "daily at 22:00",
            "--to",
            "group:linde",
        )
    with pytest.raises(VipbotError, match="targets nothing"):
        await cli(
            "schedule",
            "add",
            "linde",
            "x",
            "--what",
            "column",
            "--every",
            "daily at 10:00",
            "--to",
            "members",
        )
    with pytest.raises(VipbotError, match="targets nothing: there is no group 'nope'"):
        await cli(
            "schedule",
            "add",
            "linde",
            "x",
            "--what",
            "column",
            "--every",
            "daily at 10:00",
            "--to",
            "group:nope",
        )
    with pytest.raises(ConfigError, match="not a recurrence I understand"):
        await cli(
            "schedule",
            "add",
            "linde",
            "x",
            "--what",
            "column",
            "--every",
            "now and then",
            "--to",
            "group:linde",
        )
    with pytest.raises(ConfigError, match="there is no column 'nope'"):
        await cli("schedule", "add", "linde", "x", "--what", "column", "--item", "nope", "--every", "daily at 10:00",
                  "--to", "group:linde")  # fmt: skip
    code, out = await cli("schedule", "calendar", "linde", "--weekends", "allow", "--quiet", "00:00-00:00")
    assert "quiet hours none; weekends allowed" in out
    code, _ = await cli(
        "schedule",
        "add",
        "linde",
        "late",
        "--what",
        "reminder",
        "--every",
        "daily at 22:00",
        "--to",
        "group:linde",
    )
    assert code == 0


async def test_send_now_shows_progress_until_the_service_has_sent_it(
    cli: Cli, database_url: str, content: object, tmp_path: Path
) -> None:
    ids = tmp_path / "members.txt"
    ids.write_text("U1\nU2\n# a comment\nU1\n", encoding="utf-8")
    code, out = await cli(
        "schedule", "members", "linde", "--platform", "slack", "--workspace", "T1", "--add", str(ids)
    )
    assert "Added 2 members" in out
    assert "has 2 members" in out
    engine = create_engine(database_url)
    try:
        from bot.app import Services
        from bot.settings import load_settings

        settings = load_settings(cli.environ, dotenv_path=None)
        services = Services(settings=settings, clock=SystemClock(), engine=engine, content=content)  # type: ignore[arg-type]
        outreach = build_outreach(services)
        gateway = FakeGateway(Platform.SLACK, delay=0.05)
        teams = FakeGateway(Platform.TEAMS)
        worker = OutboxWorker(
            SqlOutbox(engine),
            {
                Platform.SLACK: PlatformDelivery(FakeRenderer(Platform.SLACK), gateway),
                Platform.TEAMS: PlatformDelivery(FakeRenderer(Platform.TEAMS), teams),
            },
            outreach.posts,
            SystemClock(),
            config=WorkerConfig(rate_per_second=2, poll_interval=0.1),
        )
        assert isinstance(outreach.posts, OutreachPosts)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        column = services.content.catalog.columns[1].id
        code, out = await cli("send", "linde", "--column", column, "--to", "group:linde", "--wait")
        stop.set()
        await task
    finally:
        await engine.dispose()
    assert code == 0
    assert "Queued column" in out
    assert "2 targets" in out
    assert "] 2/2" in out.splitlines()[-1]
    assert [r.message.payload["ref"] for r in gateway.sent + teams.sent] == [column, column]


async def test_sessions_are_planned_listed_and_cancelled(cli: Cli) -> None:
    code, out = await cli(
        "session", "add", "linde", "--title", "Intervisie: grenzen aangeven", "--start", "2030-05-14 14:00",
        "--end", "15:30", "--place", "Zaal 2", "--to", "group:linde",
    )  # fmt: skip
    assert code == 0
    assert "announcing to 2 channels or people." in out
    assert "Reminder queued for Mon 2030-05-13 10:00 CEST (2 channels or people)." in out
    session_id = out.split("(", 2)[1].split(")")[0]
    code, out = await cli("session", "list", "linde")
    assert f"{session_id}  Tue 2030-05-14 14:00–15:30  Intervisie: grenzen aangeven: No sign-ups yet" in out
    code, out = await cli("session", "cancel", "linde", session_id)
    assert "Cancelled" in out
    code, out = await cli("session", "list", "linde")
    assert "(cancelled)" in out
    with pytest.raises(ConfigError, match="ends after it starts"):
        await cli("session", "add", "linde", "--title", "x", "--start", "2030-05-14 14:00", "--end", "13:00",
                  "--place", "y", "--to", "group:linde")  # fmt: skip


async def test_preview_shows_the_pulse_card_without_opening_a_round(cli: Cli, database_url: str) -> None:
    code, _ = await cli(
        "schedule", "add", "linde", "check", "--what", "pulse", "--item", "wekelijkse-check-in",
        "--every", "every monday at 10:00", "--to", "group:linde",
    )  # fmt: skip
    assert code == 0
    code, out = await cli("schedule", "preview", "linde", "check", "--count", "1")
    assert code == 0
    assert "nothing would be sent" not in out
    assert "vp-pulse" in out  # the answer buttons, on both platforms
    assert '"type": "AdaptiveCard"' in out
    assert '"type": "actions"' in out
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rounds = (await conn.execute(text("SELECT count(*) FROM pulse"))).scalar_one()
    finally:
        await engine.dispose()
    assert rounds == 0  # a preview opens nothing


async def test_send_to_members_reaches_teams_people_as_the_service_does(
    cli: Cli, database_url: str, engine: AsyncEngine, content: ContentLibrary, tmp_path: Path
) -> None:
    """A person the Teams bot has a chat with is a member: `vipbot send --to members` reaches them, exactly like
    the service's materialiser (both are built by the one composition root)."""
    from bot.app import build_services
    from bot.settings import load_settings
    from bot.storage.organisations import SqlOrganisationRepository
    from bot.storage.teams_references import TeamsReference, TeamsScope

    ids = tmp_path / "members.txt"
    ids.write_text("U1\n", encoding="utf-8")
    await cli("schedule", "members", "linde", "--platform", "slack", "--workspace", "T1", "--add", str(ids))
    services = build_services(load_settings(cli.environ, dotenv_path=None), SystemClock(), engine, content)
    assert services.teams_references is not None
    org = await SqlOrganisationRepository(services.sessions).get_organisation("linde")
    person = TeamsReference(
        TeamsScope.PERSONAL,
        "tn",
        "https://smba.example",
        "28:bot",
        "a:chat-1",
        user_id="29:person",
        locale="en",
    )
    address = await services.teams_references.save(org.id, person)

    service_side = await build_outreach(services).materialiser.addressees(org, Audience(members=True))
    column = content.catalog.columns[0].id
    code, out = await cli("send", "linde", "--column", column, "--to", "members")
    assert code == 0
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT platform, address FROM outreach_delivery"))).all()
    sent_to = {(str(platform), str(to)) for platform, to in rows}
    assert ("teams", address) in sent_to
    assert ("slack", "U1") in sent_to
    assert sent_to == {(a.target.platform.value, a.target.address) for a in service_side}
    assert f"for {len(service_side)} targets" in out


async def test_a_monthly_digest_is_scheduled_and_previewed_like_any_post(cli: Cli) -> None:
    code, out = await cli(
        "schedule", "add", "linde", "overzicht", "--what", "digest", "--every", "monthly on day 1 at 09:00",
        "--to", "group:linde", "--when-blocked", "defer",  # the 1st may be a public holiday (1 January)
    )  # fmt: skip
    assert code == 0, out
    code, out = await cli("schedule", "preview", "linde", "overzicht", "--count", "1")
    assert code == 0
    assert ": digest" in out
    assert "nothing would be sent" in out  # no column has been sent yet: no digest

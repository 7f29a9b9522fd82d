"""`vipbot doctor` against the doubles: each misconfiguration it is fed is one line, and a good set-up passes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.adapters.slack.manifest import BOT_SCOPES
from bot.cli.context import connect
from bot.ops.doctor import Doctor, Status
from bot.settings import load_settings
from tests.doubles.bf_connector import BotConnectorDouble
from tests.doubles.slack_api import DEFAULT_TOKEN, SlackApiSimulator
from tests.doubles.smtp_sink import SmtpSink
from tests.ops.cli import Outcome, run_vipbot, run_vipbot_in_process
from tests.support.databases import clone_sqlite
from tests.support.net import free_port
from tests.support.process import seed_migrated_database

APP_ID = "00000000-0000-0000-0000-00000000b0b0"
APP_PASSWORD = "the-right-app-password"


@pytest.fixture
async def bf_double() -> AsyncIterator[BotConnectorDouble]:
    double = BotConnectorDouble(client_secret=APP_PASSWORD)
    await double.start()
    yield double
    await double.stop()


@pytest.fixture
async def vipbot_health() -> AsyncIterator[str]:
    """Something that answers /healthz as vipbot does, standing in for the running service."""

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "database": "ok"})

    app = web.Application()
    app.router.add_get("/healthz", health)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


def lines(outcome: Outcome, check: str) -> list[str]:
    return [line for line in outcome.out.splitlines() if line[6:].startswith(check + " ")]


def failures(outcome: Outcome) -> list[str]:
    return [line for line in outcome.out.splitlines() if line.startswith("FAIL")]


async def test_a_good_setup_passes_every_check(
    tmp_path: Path,
    slack_api: SlackApiSimulator,
    smtp_sink: SmtpSink,
    bf_double: BotConnectorDouble,
    vipbot_health: str,
    sqlite_template: Path,
) -> None:
    slack_api.workspaces["T0001"].scopes = ",".join(BOT_SCOPES)
    # An upgraded embedded database (what `vipbot db upgrade` leaves), copied from the suite's migrated one.
    seed_migrated_database(tmp_path / "data", sqlite_template)
    outcome = await run_vipbot_in_process(
        ["doctor"],
        tmp_path / "data",
        VIPBOT_SECRET_KEY="k" * 40,
        VIPBOT_BASE_URL=vipbot_health,
        SLACK_API_URL=slack_api.api_url,
        SLACK_BOT_TOKEN=DEFAULT_TOKEN,
        SLACK_SIGNING_SECRET="s" * 32,
        MICROSOFT_APP_ID=APP_ID,
        MICROSOFT_APP_PASSWORD=APP_PASSWORD,
        VIPBOT_TEAMS_LOGIN_URL=bf_double.url,
        VIPBOT_SMTP_HOST=smtp_sink.host,
        VIPBOT_SMTP_PORT=str(smtp_sink.port),
        VIPBOT_SMTP_FROM="vipbot@practice.test",
        VIPBOT_SMTP_STARTTLS="false",
    )
    assert outcome.code == 0, outcome.out + outcome.err
    assert failures(outcome) == []
    assert "Traceback" not in outcome.err
    for check in ("database", "key", "base-url", "portal", "slack", "teams", "smtp", "clock"):
        assert any(line.startswith("ok") for line in lines(outcome, check)), (check, outcome.out)


async def test_each_misconfiguration_is_one_line(
    tmp_path: Path, slack_api: SlackApiSimulator, bf_double: BotConnectorDouble
) -> None:
    wrong_base = f"http://127.0.0.1:{free_port()}"
    # A real process: its exit code and an empty stderr are part of what is checked.
    outcome = await run_vipbot(
        ["doctor"],
        tmp_path / "data",
        VIPBOT_SECRET_KEY="k" * 40,
        VIPBOT_BASE_URL=wrong_base,
        SLACK_API_URL=slack_api.api_url,
        SLACK_BOT_TOKEN="xoxb-not-a-token-slack-knows",
        SLACK_SIGNING_SECRET="s" * 32,
        MICROSOFT_APP_ID=APP_ID,
        MICROSOFT_APP_PASSWORD="a-wrong-password",
        VIPBOT_TEAMS_LOGIN_URL=bf_double.url,
        VIPBOT_SMTP_HOST="127.0.0.1",
        VIPBOT_SMTP_PORT=str(free_port()),
        VIPBOT_SMTP_FROM="vipbot@practice.test",
        VIPBOT_SMTP_STARTTLS="false",
    )
    assert outcome.code == 1
    assert "Traceback" not in outcome.err
    assert outcome.err.strip() == ""
    failed = failures(outcome)
    assert len(failed) == 4, outcome.out
    assert [line for line in failed if "base-url" in line] == [lines(outcome, "base-url")[-1]]
    assert wrong_base in lines(outcome, "base-url")[-1]
    assert "VIPBOT_BASE_URL" in lines(outcome, "base-url")[-1]
    (slack,) = lines(outcome, "slack")
    assert slack.startswith("FAIL")
    assert "invalid_auth" in slack
    (teams,) = lines(outcome, "teams")
    assert teams.startswith("FAIL")
    assert "MICROSOFT_APP_PASSWORD" in teams
    (smtp,) = lines(outcome, "smtp")
    assert smtp.startswith("FAIL")
    assert "connect failed" in smtp
    assert "VIPBOT_SMTP_PORT" in smtp
    assert outcome.out.strip().endswith("Problems to fix: 4.")


async def test_missing_scopes_are_named(
    tmp_path: Path, slack_api: SlackApiSimulator, vipbot_health: str
) -> None:
    slack_api.workspaces["T0001"].scopes = "chat:write,commands"
    outcome = await run_vipbot_in_process(
        ["doctor"],
        tmp_path / "data",
        VIPBOT_SECRET_KEY="k" * 40,
        VIPBOT_BASE_URL=vipbot_health,
        SLACK_API_URL=slack_api.api_url,
        SLACK_BOT_TOKEN=DEFAULT_TOKEN,
        SLACK_SIGNING_SECRET="s" * 32,
    )
    assert outcome.code == 1
    (slack,) = lines(outcome, "slack")
    assert slack.startswith("FAIL")
    assert "im:history" in slack
    assert "users:read" in slack
    assert "chat:write" not in slack.split("scopes", 1)[1]
    assert len(failures(outcome)) == 1, outcome.out


async def test_starttls_that_the_server_does_not_offer_is_one_line(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    settings = load_settings(
        {
            "VIPBOT_DATA_DIR": str(tmp_path / "data"),
            "VIPBOT_SMTP_HOST": smtp_sink.host,
            "VIPBOT_SMTP_PORT": str(smtp_sink.port),
            "VIPBOT_SMTP_FROM": "vipbot@practice.test",
            "VIPBOT_SMTP_STARTTLS": "true",
        },
        dotenv_path=None,
    )
    (finding,) = await Doctor(settings, connect).smtp()
    assert finding.status is Status.FAIL
    assert "STARTTLS failed" in finding.detail


async def test_a_clock_far_off_slacks_is_reported(tmp_path: Path, slack_api: SlackApiSimulator) -> None:
    from datetime import UTC, datetime, timedelta

    settings = load_settings(
        {
            "VIPBOT_DATA_DIR": str(tmp_path / "data"),
            "SLACK_API_URL": slack_api.api_url,
            "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
            "SLACK_SIGNING_SECRET": "s" * 32,
        },
        dotenv_path=None,
    )
    doctor = Doctor(settings, connect, now=lambda: datetime.now(UTC) + timedelta(minutes=10))
    await doctor.slack()
    (finding,) = doctor.clock()
    assert finding.status is Status.WARN
    assert "off Slack's" in finding.detail


@pytest.mark.parametrize(
    ("status", "needle"), [(None, "cannot reach Slack"), (500, "cannot reach Slack"), (429, "rate limiting")]
)
async def test_slack_failures_are_one_finding_each(
    tmp_path: Path, slack_api: SlackApiSimulator, status: int | None, needle: str
) -> None:
    api = f"http://127.0.0.1:{free_port()}/api/" if status is None else slack_api.api_url
    if status is not None:
        slack_api.fail_next("auth.test", status=status, retry_after=0 if status == 429 else None, count=10)
    settings = load_settings(
        {
            "VIPBOT_DATA_DIR": str(tmp_path / "data"),
            "SLACK_API_URL": api,
            "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
            "SLACK_SIGNING_SECRET": "s" * 32,
        },
        dotenv_path=None,
    )
    (finding,) = await Doctor(settings, connect).slack()
    assert finding.status is Status.FAIL
    assert needle in finding.detail
    assert "\n" not in finding.line()


async def test_teams_token_endpoint_unreachable_or_failing_is_one_finding(
    tmp_path: Path, bf_double: BotConnectorDouble
) -> None:
    for login, needle in ((f"http://127.0.0.1:{free_port()}", "unreachable"), (bf_double.url, "")):
        settings = load_settings(
            {
                "VIPBOT_DATA_DIR": str(tmp_path / "data"),
                "MICROSOFT_APP_ID": APP_ID,
                "MICROSOFT_APP_PASSWORD": APP_PASSWORD,
                "VIPBOT_TEAMS_LOGIN_URL": login,
            },
            dotenv_path=None,
        )
        (finding,) = await Doctor(settings, connect).teams()
        if needle:
            assert finding.status is Status.FAIL
            assert needle in finding.detail
            assert "VIPBOT_TEAMS_LOGIN_URL" in finding.detail
        else:
            assert finding.status is Status.OK


async def test_every_linked_workspace_is_asked_with_its_own_token(
    tmp_path: Path, slack_api: SlackApiSimulator, content, sqlite_template: Path
) -> None:
    from datetime import UTC, datetime

    from bot.adapters.slack.service import master_key_of
    from bot.security import Secret
    from bot.storage.db import create_engine, session_factory
    from bot.storage.organisations import SqlOrganisationRepository
    from bot.storage.slack_installations import SlackInstallation, SqlSlackInstallations
    from tests.conftest import TEST_SECRET_KEY

    slack_api.add_workspace("T0002", "xoxb-second", team_name="Second").scopes = ",".join(BOT_SCOPES)
    settings = load_settings(
        {
            "VIPBOT_DATA_DIR": str(tmp_path / "data"),
            "VIPBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'vipbot.db'}",
            "VIPBOT_SECRET_KEY": TEST_SECRET_KEY,
            "SLACK_API_URL": slack_api.api_url,
        },
        dotenv_path=None,
    )
    clone_sqlite(sqlite_template, settings.effective_database_url)  # a migrated database
    engine = create_engine(settings.effective_database_url)
    try:
        sessions = session_factory(engine)
        org = await SqlOrganisationRepository(sessions).add_organisation(
            "De Linde", "de-linde", "Europe/Amsterdam", "nl", 90
        )
        installations = SqlSlackInstallations(sessions, master_key_of(settings))
        await installations.link(org.id, "T0002")
        await installations.link(org.id, "T0009")  # linked, never installed
        await installations.save(
            SlackInstallation(
                organisation_id=org.id,
                workspace_key="T0002",
                team_id="T0002",
                enterprise_id=None,
                is_enterprise_install=False,
                app_id="A1",
                bot_id="BT0002",
                bot_user_id="UBT0002",
                bot_scopes=",".join(BOT_SCOPES),
                bot_token=Secret("xoxb-second"),
                installed_at=datetime.now(UTC),
            )
        )
    finally:
        await engine.dispose()
    doctor = Doctor(settings, connect)
    await doctor.database()
    findings = await doctor.slack()
    await doctor.engine.dispose()
    assert [(f.status, f.detail.split(":")[0]) for f in findings] == [
        (Status.OK, "workspace T0002"),
        (Status.FAIL, "workspace T0009 is linked but vipbot has no token for it"),
    ]
    assert [c.token for c in slack_api.calls_to("auth.test")] == ["xoxb-second"]

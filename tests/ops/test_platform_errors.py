"""A platform that does not answer is one line and exit code 1 in every command that talks to one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doubles.slack_api import DEFAULT_TOKEN, SlackApiSimulator
from tests.ops.cli import Outcome, run_vipbot
from tests.support.databases import clone_sqlite
from tests.support.net import free_port


def assert_one_line(outcome: Outcome, *needles: str) -> None:
    assert outcome.code == 1, outcome.err
    assert len(outcome.err_lines) == 1, outcome.err
    assert "Traceback" not in outcome.err
    for needle in needles:
        assert needle in outcome.err


async def test_slack_link_with_slack_unreachable_is_one_line(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/api/"
    outcome = await run_vipbot(
        ["slack", "link", "acme"],
        tmp_path / "data",
        SLACK_API_URL=closed,
        SLACK_BOT_TOKEN=DEFAULT_TOKEN,
        SLACK_SIGNING_SECRET="s" * 32,
        VIPBOT_SECRET_KEY="k" * 40,
    )
    assert_one_line(outcome, "cannot reach Slack", closed)


@pytest.mark.parametrize(("status", "needle"), [(500, "cannot reach Slack"), (429, "rate limiting")])
async def test_slack_link_with_slack_failing_is_one_line(
    tmp_path: Path, slack_api: SlackApiSimulator, status: int, needle: str
) -> None:
    slack_api.fail_next("auth.test", status=status, retry_after=0 if status == 429 else None, count=10)
    outcome = await run_vipbot(
        ["slack", "link", "acme"],
        tmp_path / "data",
        SLACK_API_URL=slack_api.api_url,
        SLACK_BOT_TOKEN=DEFAULT_TOKEN,
        SLACK_SIGNING_SECRET="s" * 32,
        VIPBOT_SECRET_KEY="k" * 40,
    )
    assert_one_line(outcome, needle)


async def test_slack_link_with_a_revoked_token_is_one_line(
    tmp_path: Path, slack_api: SlackApiSimulator
) -> None:
    outcome = await run_vipbot(
        ["slack", "link", "acme"],
        tmp_path / "data",
        SLACK_API_URL=slack_api.api_url,
        SLACK_BOT_TOKEN="xoxb-revoked",
        SLACK_SIGNING_SECRET="s" * 32,
        VIPBOT_SECRET_KEY="k" * 40,
    )
    assert_one_line(outcome, "Slack refused the bot token (auth.test: invalid_auth)")


async def test_digest_with_the_mail_server_unreachable_is_one_line(
    tmp_path: Path, sqlite_template: Path
) -> None:
    from bot.app import Services
    from bot.catalog import load_content
    from bot.domain.clock import SystemClock
    from bot.domain.conversations import Mode
    from bot.settings import BUNDLED_CONTENT, load_settings
    from bot.storage.db import create_engine
    from tests.conftest import TEST_SECRET_KEY
    from tests.portal.support import practice

    environ = {
        "VIPBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'vipbot.db'}",
        "VIPBOT_SECRET_KEY": TEST_SECRET_KEY,
    }
    settings = load_settings({**environ, "VIPBOT_DATA_DIR": str(tmp_path / "data")}, dotenv_path=None)
    clone_sqlite(sqlite_template, settings.effective_database_url)  # a migrated database
    engine = create_engine(settings.effective_database_url)
    try:
        services = Services(settings, SystemClock(), engine, load_content(BUNDLED_CONTENT))
        p = await practice(services, deputy=False)
        await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Er speelt iets.", None)
    finally:
        await engine.dispose()
    outcome = await run_vipbot(
        ["conversations", "digest"],
        tmp_path / "data",
        **environ,
        VIPBOT_SMTP_HOST="127.0.0.1",
        VIPBOT_SMTP_PORT=str(free_port()),
        VIPBOT_SMTP_FROM="vipbot@practice.test",
    )
    said = [line for line in (outcome.out + outcome.err).splitlines() if line.strip()]
    assert "Traceback" not in outcome.out + outcome.err
    assert [line for line in said if "SMTP" in line and "tried again later" in line] == said[:1], said
    assert said[1:] == ["Sent 0 digest e-mails."]


async def test_serve_in_socket_mode_starts_and_logs_one_line_while_slack_is_unreachable(
    tmp_path: Path, sqlite_template: Path
) -> None:
    import asyncio

    from tests.support.net import wait_for_http
    from tests.support.process import seed_migrated_database, start_vipbot, stop, vipbot_env

    seed_migrated_database(tmp_path / "data", sqlite_template)
    port = free_port()
    env = vipbot_env(
        tmp_path / "data",
        port,
        SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/",
        SLACK_APP_TOKEN="xapp-1-unreachable",
        SLACK_BOT_TOKEN=DEFAULT_TOKEN,
        SLACK_SIGNING_SECRET="s" * 32,
        VIPBOT_SECRET_KEY="k" * 40,
        VIPBOT_LOG_FORMAT="console",
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = start_vipbot(["serve"], env, tmp_path, log)
        try:
            await wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
            for _ in range(300):
                if "Failed to connect" in log_path.read_text():
                    break
                await asyncio.sleep(0.1)
        finally:
            code = stop(process)
    output = log_path.read_text()
    assert code == 0, output
    failed = [line for line in output.splitlines() if "Failed to connect" in line]
    assert failed, output
    assert "Traceback" not in output
    assert "ready: open the console" in output

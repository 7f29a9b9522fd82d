"""`vipbot slack manifest | link | install-url`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.__main__ import build_parser
from bot.cli.context import CliContext
from bot.errors import ConfigError, VipbotError
from bot.security.secret import Secret
from bot.storage.db import session_factory
from bot.storage.organisations import SqlOrganisationRepository
from bot.storage.slack_installations import SqlSlackInstallations
from tests.conftest import TEST_SECRET_KEY
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator


async def _run(
    argv: list[str], environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    args = build_parser().parse_args(argv)
    code = await args.handler(args, CliContext(environ=environ, dotenv=None))
    return code, capsys.readouterr().out


async def test_manifest_describes_the_whole_app(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = await _run(
        ["slack", "manifest", "--url", "https://vipbot.example.nl/"],
        {"VIPBOT_DATA_DIR": str(tmp_path)},
        capsys,
    )
    assert code == 0
    manifest = json.loads(out)
    events = "https://vipbot.example.nl/slack/events"
    assert manifest["settings"]["event_subscriptions"]["request_url"] == events
    assert manifest["settings"]["interactivity"] == {"is_enabled": True, "request_url": events}
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/vp"
    assert command["url"] == events
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["oauth_config"]["redirect_urls"] == ["https://vipbot.example.nl/slack/oauth_redirect"]
    assert {"chat:write", "commands", "im:history"} <= set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_home_opened", "message.im", "channel_rename", "member_left_channel"} <= set(
        manifest["settings"]["event_subscriptions"]["bot_events"]
    )
    assert len(manifest["display_information"]["description"]) <= 140
    assert 175 <= len(manifest["display_information"]["long_description"]) <= 4000
    _, socket = await _run(
        ["slack", "manifest", "--url", "https://x.nl", "--socket-mode", "--locale", "en"],
        {"VIPBOT_DATA_DIR": str(tmp_path)},
        capsys,
    )
    socket_manifest = json.loads(socket)
    assert socket_manifest["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in socket_manifest["settings"]["event_subscriptions"]
    assert "confidential conversation" in socket_manifest["display_information"]["description"]
    with pytest.raises(ConfigError):
        await _run(
            ["slack", "manifest", "--url", "http://insecure.nl"], {"VIPBOT_DATA_DIR": str(tmp_path)}, capsys
        )


async def test_link_asks_slack_which_workspace_the_token_is_for(
    database_url: str,
    engine: AsyncEngine,
    tmp_path: Path,
    slack_api: SlackApiSimulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    organisation = await SqlOrganisationRepository(session_factory(engine)).add_organisation(
        "Acme Zorg", "acme", "Europe/Amsterdam", "nl", 90
    )
    environ = {
        "VIPBOT_DATABASE_URL": database_url,
        "VIPBOT_DATA_DIR": str(tmp_path),
        "VIPBOT_SECRET_KEY": TEST_SECRET_KEY,
        "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
        "SLACK_SIGNING_SECRET": "s" * 32,
        "SLACK_API_URL": slack_api.api_url,
    }
    code, out = await _run(["slack", "link", "acme"], environ, capsys)
    assert code == 0
    assert f"{DEFAULT_TEAM} (Default workspace) linked to Acme Zorg" in out
    installations = SqlSlackInstallations(session_factory(engine), Secret(TEST_SECRET_KEY.encode()))
    assert await installations.organisation_for(DEFAULT_TEAM) == organisation.id
    assert "already linked" in (await _run(["slack", "link", "acme"], environ, capsys))[1]
    await SqlOrganisationRepository(session_factory(engine)).add_organisation(
        "Beta", "beta", "Europe/Amsterdam", "nl", 90
    )
    with pytest.raises(VipbotError, match="another organisation"):
        await _run(["slack", "link", "beta"], environ, capsys)
    with pytest.raises(VipbotError, match="invalid_auth"):
        await _run(["slack", "link", "beta"], {**environ, "SLACK_BOT_TOKEN": "xoxb-wrong"}, capsys)
    code, out = await _run(["slack", "link", "beta", "--workspace", "T0BETA"], environ, capsys)
    assert code == 0
    assert "T0BETA linked to Beta" in out
    await engine.dispose()


async def test_install_url_names_the_organisation(
    database_url: str, engine: AsyncEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await SqlOrganisationRepository(session_factory(engine)).add_organisation(
        "Acme Zorg", "acme", "Europe/Amsterdam", "nl", 90
    )
    await engine.dispose()
    environ = {
        "VIPBOT_DATABASE_URL": database_url,
        "VIPBOT_DATA_DIR": str(tmp_path),
        "VIPBOT_BASE_URL": "https://vipbot.example.nl",
        "SLACK_CLIENT_ID": "1.2",
        "SLACK_CLIENT_SECRET": "c" * 32,
        "SLACK_SIGNING_SECRET": "s" * 32,
    }
    code, out = await _run(["slack", "install-url", "acme"], environ, capsys)
    assert (code, out.strip()) == (0, "https://vipbot.example.nl/slack/install?org=acme")

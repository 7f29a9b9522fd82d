"""When the Teams endpoint is on, and that production never accepts unauthenticated Teams traffic."""

from __future__ import annotations

import aiohttp
import pytest

from bot.app import Services
from bot.errors import ConfigError
from bot.settings import load_settings
from tests.adapters.teams.support import running

PRODUCTION = {
    "VIPBOT_ENV": "production",
    "VIPBOT_SECRET_KEY": "teams-settings-Q7vR2xL9mK4pW8nB3cJ6tY1hF5dS0gZ",
    "VIPBOT_BASE_URL": "https://vp.example.nl",
}


def test_development_without_app_id_is_on_and_unauthenticated() -> None:
    settings = load_settings({}, dotenv_path=None)
    assert settings.teams_enabled
    assert settings.microsoft_app_id is None


def test_production_refuses_teams_without_app_id() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({**PRODUCTION, "VIPBOT_TEAMS": "true"}, dotenv_path=None)
    assert refused.value.variable == "MICROSOFT_APP_ID"


def test_production_without_app_id_leaves_teams_off_unless_asked() -> None:
    assert not load_settings(PRODUCTION, dotenv_path=None).teams_enabled
    configured = {**PRODUCTION, "MICROSOFT_APP_ID": "app", "MICROSOFT_APP_PASSWORD": "pw"}
    assert load_settings(configured, dotenv_path=None).teams_enabled
    assert not load_settings({**configured, "VIPBOT_TEAMS": "false"}, dotenv_path=None).teams_enabled


def test_endpoint_urls_must_be_http() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({"VIPBOT_TEAMS_OPENID_METADATA_URL": "ftp://x"}, dotenv_path=None)
    assert refused.value.variable == "VIPBOT_TEAMS_OPENID_METADATA_URL"


async def test_switched_off_means_no_endpoint(services: Services) -> None:
    off = Services(
        settings=services.settings.model_copy(update={"teams": False}),
        clock=services.clock,
        engine=services.engine,
        content=services.content,
    )
    async with (
        running(off) as base,
        aiohttp.ClientSession() as http,
        http.post(f"{base}/api/messages", json={"type": "message"}) as response,
    ):
        assert response.status == 404
    async with (
        running(services) as base,
        aiohttp.ClientSession() as http,
        http.post(f"{base}/api/messages", data="not json", headers={"Content-Type": "application/json"}) as r,
    ):
        assert r.status == 400

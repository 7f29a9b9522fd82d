"""The real `vipbot serve` process: install, a typed secret, uninstall — and the secret is in no file or log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bot.app import Services
from bot.catalog import ContentLibrary
from bot.domain.clock import FixedClock
from bot.settings import load_settings
from bot.storage.db import create_engine
from tests.adapters.teams.support import BOT_ID, PERSONAL_CHAT, activity, card_text, cards_of, connect
from tests.adapters.teams.test_teams_http import CANARY
from tests.conftest import TEST_SECRET_KEY
from tests.doubles.bf_connector import BotConnectorDouble
from tests.support.net import free_port, wait_for_http
from tests.support.process import seed_migrated_database, start_vipbot, stop, vipbot_env


async def test_the_running_service_keeps_typed_text_nowhere(
    tmp_path: Path,
    bf_connector: BotConnectorDouble,
    content: ContentLibrary,
    clock: FixedClock,
    sqlite_template: Path,
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = vipbot_env(data_dir, port, VIPBOT_SECRET_KEY=TEST_SECRET_KEY, VIPBOT_LOG_LEVEL="DEBUG")
    settings = load_settings(env, dotenv_path=None)
    seed_migrated_database(data_dir, sqlite_template)
    engine = create_engine(settings.effective_database_url)
    services = Services(settings=settings, clock=clock, engine=engine, content=content)
    await connect(services)
    await engine.dispose()

    log_path = tmp_path / "vipbot.log"
    with log_path.open("wb") as log:
        process = start_vipbot(["serve"], env, tmp_path, log)
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_for_http(f"{base}/healthz")
            async with aiohttp.ClientSession() as http:
                for body in (
                    activity(bf_connector.url, "conversationUpdate", membersAdded=[{"id": BOT_ID}]),
                    activity(bf_connector.url, "message", text=CANARY),
                    activity(bf_connector.url, "message", value={"vipbot": "help"}),
                    activity(bf_connector.url, "installationUpdate", action="remove"),
                ):
                    async with http.post(f"{base}/api/messages", json=body) as response:
                        assert response.status in {200, 201, 202}
        finally:
            assert await asyncio.to_thread(stop, process) == 0

    replies = [card_text(card) for card in cards_of(bf_connector.activities(PERSONAL_CHAT))]
    assert len(replies) == 3
    assert "bewaar of lees ik niet" in replies[1]
    logged = log_path.read_bytes()
    assert b"TEAMS ENDPOINT IS UNAUTHENTICATED" in logged
    assert b"teams conversation installed" in logged
    assert b"teams conversation uninstalled" in logged
    files = [p for p in data_dir.iterdir() if p.is_file()]
    assert any(p.name == "vipbot.db" for p in files)
    for path in [*files, log_path]:
        assert CANARY.encode() not in path.read_bytes(), path.name
    assert CANARY.encode() not in bf_connector.raw_traffic()

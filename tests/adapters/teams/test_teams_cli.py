"""`vipbot teams connect / conversations / disconnect` against a real database."""

from __future__ import annotations

import pytest

from bot.__main__ import build_parser
from bot.adapters.teams import reference_store
from bot.app import Services
from bot.cli.context import CliContext
from bot.storage.teams_references import TeamsReference, TeamsScope
from tests.adapters.teams.support import BOT_ID, CHANNEL_ID, PERSONAL_CHAT, TENANT, USER_ID
from tests.conftest import TEST_SECRET_KEY


async def run(argv: list[str], services: Services, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    args = build_parser().parse_args(argv)
    environ = {
        "VIPBOT_DATABASE_URL": services.settings.database_url or "",
        "VIPBOT_DATA_DIR": str(services.settings.data_dir),
        "VIPBOT_SECRET_KEY": TEST_SECRET_KEY,
    }
    code = await args.handler(args, CliContext(environ=environ, dotenv=None))
    return code, capsys.readouterr().out


async def test_connect_list_and_disconnect(services: Services, capsys: pytest.CaptureFixture[str]) -> None:
    org = await services.organisations.add_organisation("Zorg", "zorg", "Europe/Amsterdam", "nl", 90)
    assert (await run(["teams", "connect", "zorg", TENANT], services, capsys))[0] == 0
    store = reference_store(services)
    assert (await store.organisation_for_tenant(TENANT)) == org
    channel = TeamsReference(
        TeamsScope.CHANNEL,
        TENANT,
        "https://smba.example/",
        BOT_ID,
        CHANNEL_ID,
        None,
        "19:t",
        "Team Zorg",
        "General",
    )
    address = await store.save(org.id, channel)
    await store.save(
        org.id,
        TeamsReference(TeamsScope.PERSONAL, TENANT, "https://smba.example/", BOT_ID, PERSONAL_CHAT, USER_ID),
    )
    code, out = await run(["teams", "conversations", "zorg"], services, capsys)
    assert code == 0
    assert f"{address}  channel" in out
    assert "Team Zorg / General" in out
    assert "1 personal chat." in out
    assert USER_ID not in out
    assert PERSONAL_CHAT not in out
    code, out = await run(["teams", "disconnect", "zorg", TENANT], services, capsys)
    assert (code, "forgot 2 conversations" in out) == (0, True)
    assert await store.organisation_for_tenant(TENANT) is None
    assert await store.list_references(org.id) == []

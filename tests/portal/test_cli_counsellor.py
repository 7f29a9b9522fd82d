"""`vipbot counsellor …` and `vipbot conversations expire`, with the real Argon2id parameters."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.__main__ import build_parser
from bot.cli.context import CliContext
from bot.domain.clock import FixedClock, SystemClock
from bot.domain.conversations import Author, ConversationNotFoundError, Mode
from bot.errors import ConfigError, VipbotError
from bot.security import Secret, WrongPassphraseError
from bot.security.counsellor_keys import DEFAULT_ARGON2_PARAMS, WrappedKey
from bot.settings import load_settings
from bot.storage.conversations import SqlConversationStore
from bot.storage.db import session_factory
from bot.web.portal.channel import ConfidentialChannel
from tests.conftest import TEST_SECRET_KEY


async def run(
    argv: list[str],
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: str = "",
) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    args = build_parser().parse_args(argv)
    environ = {
        "VIPBOT_DATABASE_URL": database_url,
        "VIPBOT_DATA_DIR": str(tmp_path),
        "VIPBOT_SECRET_KEY": TEST_SECRET_KEY,
    }
    code = await args.handler(args, CliContext(environ=environ, dotenv=None))
    return code, capsys.readouterr().out


async def test_add_list_rotate_and_expire(
    database_url: str,
    engine: AsyncEngine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        assert (
            await run(
                ["org", "add", "De Linde", "--slug", "linde"], database_url, tmp_path, capsys, monkeypatch
            )
        )[0] == 0
        with pytest.raises(ConfigError):
            await run(
                ["counsellor", "add", "linde", "Mira", "--email", "mira@vp.test", "--passphrase-stdin"],
                database_url,
                tmp_path,
                capsys,
                monkeypatch,
                "kort\n",
            )
        code, out = await run(
            ["counsellor", "add", "linde", "Mira Jansen", "--email", "mira@vp.test", "--passphrase-stdin"],
            database_url,
            tmp_path,
            capsys,
            monkeypatch,
            "eerste lange wachtwoordzin\n",
        )
        assert code == 0
        assert "primary counsellor of linde" in out
        code, out = await run(
            [
                "counsellor",
                "add",
                "linde",
                "Daan",
                "--email",
                "daan@vp.test",
                "--deputy",
                "--passphrase-stdin",
            ],
            database_url,
            tmp_path,
            capsys,
            monkeypatch,
            "wachtwoordzin van de vervanger\n",
        )
        assert "deputy counsellor" in out
        listing = (await run(["counsellor", "list", "linde"], database_url, tmp_path, capsys, monkeypatch))[1]
        assert "Mira Jansen" in listing
        assert "Daan" in listing
        assert "no key" not in listing

        store = SqlConversationStore(session_factory(engine))
        mira = await store.find_counsellor("Mira Jansen")
        vault = await store.vault(mira.id)
        assert WrappedKey.from_bytes(vault.wrapped_private).params == DEFAULT_ARGON2_PARAMS

        settings = load_settings(
            {"VIPBOT_SECRET_KEY": TEST_SECRET_KEY, "VIPBOT_DATABASE_URL": database_url}, dotenv_path=None
        )
        clock = SystemClock()
        channel = ConfidentialChannel(engine, settings, clock)
        org = await channel.store.recipients(await _org_id(engine))
        assert len(org) == 2
        conv_id, _code = await channel.service.start(await _org_id(engine), 90, Mode.ANONYMOUS, "Hallo")

        with pytest.raises(VipbotError):
            await run(
                ["counsellor", "rotate-key", "Mira Jansen", "--passphrase-stdin"],
                database_url,
                tmp_path,
                capsys,
                monkeypatch,
                "niet de goede\nnieuwe lange wachtwoordzin\n",
            )
        code, out = await run(
            ["counsellor", "rotate-key", "Mira Jansen", "--passphrase-stdin"],
            database_url,
            tmp_path,
            capsys,
            monkeypatch,
            "eerste lange wachtwoordzin\nnieuwe lange wachtwoordzin\n",
        )
        assert code == 0
        assert "the key of 1 conversation re-sealed" in out
        with pytest.raises(WrongPassphraseError):
            await channel.unlock(mira.id, Secret("eerste lange wachtwoordzin"))
        key = await channel.unlock(mira.id, Secret("nieuwe lange wachtwoordzin"))
        thread = await channel.service.read(
            await _org_id(engine),
            conv_id,
            await channel.service.counsellor_key(key, conv_id),
            Author.COUNSELLOR,
        )
        assert thread.messages[0].text == "Hallo"

        # Unlinking the deputy deletes their copy of the conversation key.
        out = (
            await run(["counsellor", "unlink", "Daan", "linde"], database_url, tmp_path, capsys, monkeypatch)
        )[1]
        assert "1 conversation key copies deleted" in out
        daan = await store.find_counsellor("Daan")
        assert await store.shares_of(daan.id) == []
        assert [r.counsellor_id for r in await store.recipients(await _org_id(engine))] == [mira.id]

        # A conversation whose last activity is 91 days ago is erased by the command; the fresh one stays.
        past = FixedClock(datetime.now(UTC) - timedelta(days=91))
        old_id, old_code = await ConfidentialChannel(engine, settings, past).service.start(
            await _org_id(engine), 90, Mode.ANONYMOUS, "Oud"
        )
        assert (
            "Erased 1"
            in (await run(["conversations", "expire"], database_url, tmp_path, capsys, monkeypatch))[1]
        )
        with pytest.raises(ConversationNotFoundError):
            await channel.service.access(await _org_id(engine), old_code)
        assert (await channel.service.access(await _org_id(engine), _code))[0] == conv_id
        assert old_id != conv_id
    finally:
        await engine.dispose()


async def _org_id(engine: object) -> object:
    from bot.storage.organisations import SqlOrganisationRepository

    return (await SqlOrganisationRepository(session_factory(engine)).get_organisation("linde")).id  # type: ignore[arg-type]

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.__main__ import main
from bot.errors import DatabaseNotReadyError
from bot.storage.db import create_engine
from bot.storage.migrate import MIGRATIONS, code_heads, database_heads, drift, ensure_current, upgrade


async def test_upgrade_brings_an_empty_database_to_head(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await database_heads(engine) == set()
        with pytest.raises(DatabaseNotReadyError):
            await ensure_current(engine)
        await upgrade(engine)
        assert await database_heads(engine) == code_heads()
        await ensure_current(engine)
        await upgrade(engine)  # a second run is a no-op
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert {"organisation", "org_group", "channel_binding", "counsellor"} <= tables
    finally:
        await engine.dispose()


async def test_models_and_migrations_do_not_drift(engine: AsyncEngine) -> None:
    differences = await drift(engine)
    assert differences == [], f"tables in code differ from the migrations: {differences}"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["db", "revision", "add a column"], "--head outreach@head --rev-id outreach_000N"),
        (
            ["db", "revision", "start", "--label", "digest"],
            "--head 0001_tenancy --label digest --rev-id digest_0001",
        ),
        (["db", "revision", "x", "--head", "nope@head"], "Can't locate revision identified by 'nope'"),
    ],
    ids=["no head", "new label", "unknown head"],
)
def test_db_revision_says_in_one_line_what_to_pass(
    argv: list[str],
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each feature has its own branch, so there are several heads; `db revision` says which to pass."""
    assert len(code_heads()) > 1
    monkeypatch.setenv("VIPBOT_DATA_DIR", str(tmp_path))
    versions = sorted(MIGRATIONS.joinpath("versions").iterdir())
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert expected in captured.err
    assert sorted(MIGRATIONS.joinpath("versions").iterdir()) == versions  # nothing written

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import DatabaseNotReadyError
from bot.storage.db import create_engine
from bot.storage.migrate import code_heads, database_heads, drift, ensure_current, upgrade


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

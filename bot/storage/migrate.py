"""Running Alembic migrations in-process, on the engine the service already has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import DatabaseNotReadyError
from bot.storage.metadata import target_metadata

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("path_separator", "os")
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_locations", str(MIGRATIONS / "versions"))
    return config


def _with_connection(connection: Connection) -> Config:
    config = alembic_config()
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, target: str = "heads") -> None:
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.upgrade(_with_connection(sync), target))


def code_heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


async def database_heads(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: set(MigrationContext.configure(sync).get_current_heads())
        )


async def ensure_current(engine: AsyncEngine) -> None:
    """Refuse to run on a schema that is behind (or ahead of) the code."""
    have, want = await database_heads(engine), code_heads()
    if have != want:
        state = "empty" if not have else "at " + ", ".join(sorted(have))
        raise DatabaseNotReadyError(
            f"the database schema is {state} but this version needs {', '.join(sorted(want))}: "
            "run `vipbot db upgrade`"
        )


async def drift(engine: AsyncEngine) -> list[Any]:
    """Differences between the tables in code and the migrated database; empty when they agree."""
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), target_metadata()
            )
        )


async def autogenerate_revision(
    engine: AsyncEngine, message: str, head: str = "head", label: str | None = None, rev_id: str | None = None
) -> None:
    """Write a new migration from the difference between the code and a database at head.

    Features keep their own migration branch: the first revision of a branch starts at `--head 0001_tenancy`
    with `--label FEATURE`; later ones extend `--head FEATURE@head`.
    """
    async with engine.begin() as connection:
        await connection.run_sync(
            lambda sync: command.revision(
                _with_connection(sync),
                message=message,
                autogenerate=True,
                head=head,
                branch_label=label,
                rev_id=rev_id,
                # Branching off a revision that is no longer a head (a new feature off 0001_tenancy).
                splice=label is not None,
            )
        )

"""Running Alembic migrations in-process, on the engine the service already has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import DatabaseNotReadyError, MigrationError
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


def branch_heads() -> dict[str, str]:
    """The head revision of every feature's migration branch, by branch label (a head without one by its id)."""
    script = ScriptDirectory.from_config(alembic_config())
    found: dict[str, str] = {}
    for head in script.get_heads():
        revision = script.get_revision(head)
        labels = sorted(revision.branch_labels) if revision is not None else []
        found[labels[0] if labels else head] = head
    return dict(sorted(found.items()))


def revision_base_problem(head: str, label: str | None) -> str | None:
    """Why `db revision` cannot build on `head` as given, in one line saying what to pass; None when it can.

    Every feature keeps its own branch, so there are several heads and a bare "head" names none of them.
    """
    heads = branch_heads()
    if head != "head" or len(heads) < 2:
        return None
    branches = ", ".join(f"{name} ({revision})" for name, revision in heads.items())
    if label:
        return (
            f"there are {len(heads)} migration heads ({branches}): a new feature's branch starts with "
            f"--head 0001_tenancy --label {label} --rev-id {label}_0001"
        )
    return (
        f"there are {len(heads)} migration heads ({branches}): pass the branch of your feature, "
        "e.g. --head outreach@head --rev-id outreach_000N, or start a new one with "
        "--head 0001_tenancy --label FEATURE --rev-id FEATURE_0001"
    )


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
    problem = revision_base_problem(head, label)
    if problem is not None:
        raise MigrationError(problem)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: _revision(sync, message, head, label, rev_id))
    except CommandError as exc:
        # Alembic's own refusals (an unknown --head, a taken --rev-id) are one line too.
        raise MigrationError(str(exc).splitlines()[0]) from None


def _revision(sync: Connection, message: str, head: str, label: str | None, rev_id: str | None) -> None:
    command.revision(
        _with_connection(sync),
        message=message,
        autogenerate=True,
        head=head,
        branch_label=label,
        rev_id=rev_id,
        # Branching off a revision that is no longer a head (a new feature off 0001_tenancy).
        splice=label is not None,
    )

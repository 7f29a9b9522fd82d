"""`vipbot backup` and `vipbot restore`: a consistent snapshot of the database; the secret key kept apart."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.context import CliContext, connect
from bot.errors import ConfigError

if TYPE_CHECKING:
    from bot.settings import Settings

# What `restore` counts afterwards, so the operator can compare with what they expect.
VERIFY_TABLES = (
    ("organisations", "organisation"),
    ("conversations", "conversation"),
    ("pulses", "pulse"),
    ("schedules", "outreach_schedule"),
    ("console accounts", "console_account"),
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = commands.add_parser(
        "backup",
        help="write a consistent snapshot of the database to one archive (the secret key is kept apart)",
        description="Write the database to a .tar.gz archive while vipbot may keep running: SQLite through its "
        "online backup API, PostgreSQL through pg_dump. The secret key is never in it; the archive records "
        "its fingerprint. See docs/operations.md.",
    )
    backup.add_argument(
        "--output",
        type=Path,
        help="the archive to write (default: vipbot-backup-YYYYMMDD-HHMMSS.tar.gz here)",
    )
    backup.set_defaults(handler=run_backup)

    restore = commands.add_parser(
        "restore",
        help="put a backup back (asks before replacing an existing database; --yes for scripts)",
        description="Restore the database from an archive made by `vipbot backup`. The secret key must be "
        "the one the backup was made with (VIPBOT_SECRET_KEY, or the kept key file in the data folder); "
        "another key is refused. Stop `vipbot serve` first.",
    )
    restore.add_argument("archive", type=Path, help="the archive written by `vipbot backup`")
    restore.add_argument("--yes", action="store_true", help="replace an existing database without asking")
    restore.set_defaults(handler=run_restore)


async def run_backup(args: argparse.Namespace, ctx: CliContext) -> int:
    settings = ctx.settings()
    # What a command needs is imported when it runs: `vipbot --help` and a bad setting need none of it.
    from bot.ops.backup import BackupError, make_backup
    from bot.ops.keys import KeySource, key_info
    from bot.settings import describe_database
    from bot.storage.migrate import database_heads

    output = _new_output(args.output)
    engine = await connect(settings)
    try:
        schema = sorted(await database_heads(engine))
    finally:
        await engine.dispose()
    if not schema:
        raise BackupError(
            f"{describe_database(settings.effective_database_url)} is empty: nothing to back up"
        )
    manifest = await asyncio.to_thread(make_backup, settings, schema, output)
    ctx.print(
        f"Wrote {output} ({_size(output)} bytes): the {manifest.backend} database, schema "
        f"{', '.join(manifest.schema)}."
    )
    info = key_info(settings)
    if info.source is KeySource.NONE:
        ctx.print("There is no secret key yet, so nothing in it is sealed.")
    else:
        where = str(info.path) if info.path else "VIPBOT_SECRET_KEY"
        ctx.print(
            f"The secret key is NOT in the archive. Keep a copy of it ({where}, fingerprint "
            f"{info.fingerprint}) apart from the backups: without it, the Slack and Teams tokens, the receipt "
            "codes and the console's authenticators in the backup are lost."
        )
    return 0


async def run_restore(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.ops.backup import (
        BackupError,
        backend_of,
        key_problem,
        read_manifest,
        restore_postgresql,
        restore_sqlite,
        sqlite_path,
    )
    from bot.settings import describe_database

    settings = ctx.settings()
    archive = _existing_archive(args.archive)
    manifest = read_manifest(archive)
    backend = backend_of(settings)
    if manifest.backend != backend:
        raise BackupError(
            f"{archive} holds a {manifest.backend} database, but the settings point at {backend}: "
            "set VIPBOT_DATABASE_URL to match (see docs/operations.md)"
        )
    problem = key_problem(settings, manifest)
    if problem:
        raise BackupError(problem)
    where = describe_database(settings.effective_database_url)
    if await _holds_data(settings) and not args.yes:
        _confirm(f"{where} exists and will be replaced by the backup of {manifest.created}.")
    if backend == "sqlite":
        await asyncio.to_thread(restore_sqlite, archive, sqlite_path(settings))
    else:
        await asyncio.to_thread(restore_postgresql, settings, archive)
    ctx.print(f"Restored the backup of {manifest.created} into {where}.")
    await _report(settings, ctx)
    return 0


def _new_output(given: Path | None) -> Path:
    output = given or Path(f"vipbot-backup-{datetime.now(UTC):%Y%m%d-%H%M%S}.tar.gz")
    if output.exists():
        raise ConfigError("--output", f"{output} exists already; name another file")
    return output


def _size(path: Path) -> int:
    return path.stat().st_size


def _existing_archive(archive: Path) -> Path:
    if not archive.is_file():
        raise ConfigError("archive", f"{archive} is not a file")
    return archive


def _sqlite_holds_data(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


async def _holds_data(settings: Settings) -> bool:
    from bot.ops.backup import backend_of, sqlite_path
    from bot.storage.migrate import database_heads

    if backend_of(settings) == "sqlite":
        return _sqlite_holds_data(sqlite_path(settings))
    engine = await connect(settings)
    try:
        return bool(await database_heads(engine))
    finally:
        await engine.dispose()


def _confirm(question: str) -> None:
    from bot.ops.backup import BackupError

    if not sys.stdin.isatty():
        raise BackupError(f"{question} Run again with --yes to replace it.")
    answer = input(f"{question} Replace it? [y/N] ")
    if answer.strip().lower() not in {"y", "yes", "j", "ja"}:
        raise BackupError("nothing was changed")


async def _report(settings: Settings, ctx: CliContext) -> None:
    """What is in the restored database, to compare with what the operator expects."""
    from sqlalchemy import text

    from bot.storage.migrate import code_heads, database_heads

    engine = await connect(settings)
    try:
        heads = await database_heads(engine)
        counts = []
        async with engine.connect() as connection:
            for label, table in VERIFY_TABLES:
                count = (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()  # noqa: S608
                counts.append(f"{count} {label}")
    finally:
        await engine.dispose()
    ctx.print("It holds " + ", ".join(counts) + ".")
    if heads != code_heads():
        ctx.print("Its schema is older than this version: run `vipbot db upgrade` before `vipbot serve`.")

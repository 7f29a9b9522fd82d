"""`vipbot db …`: schema migrations."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bot.cli.context import CliContext, connect


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "db", help="database schema migrations", description="Database schema migrations."
    )
    sub = parser.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    up = sub.add_parser(
        "upgrade",
        help="bring the database schema up to date",
        description="Apply every pending migration to VIPBOT_DATABASE_URL (or the embedded SQLite default).",
    )
    up.set_defaults(handler=run_upgrade)
    current = sub.add_parser("current", help="show the schema revision of the database")
    current.set_defaults(handler=run_current)
    revision = sub.add_parser(
        "revision",
        help="(developers) write a migration for the tables changed in code",
        description="Autogenerate a migration from the difference between the tables in code and the "
        "migrations so far, using a scratch SQLite database.",
    )
    revision.add_argument("message", help="what the migration does, e.g. 'add outbox'")
    revision.add_argument(
        "--head", default="head", help="revision to build on, e.g. 0001_tenancy or slack@head"
    )
    revision.add_argument("--label", help="branch label, for the first migration of a feature's branch")
    revision.add_argument("--rev-id", help="a readable revision id, e.g. slack_0001")
    revision.set_defaults(handler=run_revision)


async def run_upgrade(_args: argparse.Namespace, ctx: CliContext) -> int:
    engine = await connect(ctx.settings())
    try:
        # Alembic is imported once the database answered: `vipbot --help` and a bad setting need none of it.
        from bot.storage.migrate import database_heads, upgrade

        before = await database_heads(engine)
        await upgrade(engine)
        after = await database_heads(engine)
    finally:
        await engine.dispose()
    if before == after:
        ctx.print(f"The database is up to date ({', '.join(sorted(after))}).")
    else:
        ctx.print(
            f"Upgraded the database from {', '.join(sorted(before)) or 'empty'} to {', '.join(sorted(after))}."
        )
    return 0


async def run_current(_args: argparse.Namespace, ctx: CliContext) -> int:
    engine = await connect(ctx.settings())
    try:
        from bot.storage.migrate import database_heads

        heads = await database_heads(engine)
    finally:
        await engine.dispose()
    ctx.print(", ".join(sorted(heads)) or "empty (no migrations applied)")
    return 0


async def run_revision(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.storage.db import create_engine
    from bot.storage.migrate import autogenerate_revision, upgrade

    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            await upgrade(engine)
            await autogenerate_revision(engine, args.message, args.head, args.label, args.rev_id)
        finally:
            await engine.dispose()
    ctx.print("Wrote a new migration; read it before you commit it.")
    return 0

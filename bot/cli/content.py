"""`vipbot content check`: validate a content library."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.context import CliContext


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("content", help="the content library", description="The content library.")
    sub = parser.add_subparsers(dest="content_command", required=True, metavar="COMMAND")
    check = sub.add_parser(
        "check",
        help="validate columns, reminders, pulse sets, sociale kaart and locales",
        description="Validate a content library and report every problem as file:line: message.",
    )
    check.add_argument(
        "directory",
        nargs="?",
        type=Path,
        help="the content folder (default: VIPBOT_CONTENT_DIR, else the bundled library)",
    )
    check.set_defaults(handler=run_check)


async def run_check(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.catalog import check_content

    root: Path = args.directory or ctx.settings().content_dir
    problems = check_content(root)
    for problem in problems:
        ctx.print(problem)
    if problems:
        ctx.print(f"Problems found in {root}: {len(problems)}")
        return 1
    ctx.print(f"The content library in {root} is sound.")
    return 0

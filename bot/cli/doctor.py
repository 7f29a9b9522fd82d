"""`vipbot doctor`: check the configuration end to end, one line per check with what to do."""

from __future__ import annotations

import argparse

from bot.cli.context import CliContext, connect


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "doctor",
        help="check the configuration end to end: database, key, addresses, Slack, Teams, e-mail, clock",
        description="Check every part of this deployment and print one line per check with what to do. "
        "Exit code 1 when a check failed. Run it with the same settings as `vipbot serve`, while it runs.",
    )
    parser.set_defaults(handler=run)


async def run(_args: argparse.Namespace, ctx: CliContext) -> int:
    settings = ctx.settings()
    # Imported when the command runs: `vipbot --help` and the other commands need none of it.
    from bot.ops.doctor import Doctor, Status

    findings = await Doctor(settings, connect).run()
    for finding in findings:
        ctx.print(finding.line())
    failed = sum(1 for f in findings if f.status is Status.FAIL)
    ctx.print(f"Problems to fix: {failed}." if failed else "No problems found.")
    return 1 if failed else 0

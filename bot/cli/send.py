"""`vipbot send …`: publish one column or reminder now, through the same outbox as the schedules."""

from __future__ import annotations

import argparse
import asyncio
import time

from bot.cli.context import CliContext
from bot.cli.schedule import (
    Progress,
    ScheduleError,
    add_audience_arguments,
    audience_from,
    check_item,
    materialiser_for,
)
from bot.domain.outreach import AudienceError, What
from bot.errors import ConfigError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "send",
        help="publish a column or reminder now",
        description="Publish one column or reminder now. The running service sends it (paced, with retries); "
        "--wait shows the progress until every delivery is sent or has failed.",
    )
    parser.add_argument("org", help="organisation handle")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--column", metavar="ID", help="a column from the content library")
    which.add_argument("--reminder", metavar="ID", help="a code-of-conduct reminder from the content library")
    add_audience_arguments(parser)
    parser.add_argument("--locale", choices=["nl", "en"], help="language (default: the organisation's)")
    parser.add_argument("--wait", action="store_true", help="show progress until everything is sent")
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds --wait waits at most (default 3600)"
    )
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace, ctx: CliContext) -> int:
    content = ctx.content()
    what, item = (What.COLUMN, args.column) if args.column else (What.REMINDER, args.reminder)
    check_item(content, what, item)
    audience = audience_from(args)
    if args.timeout <= 0:
        raise ConfigError("--timeout", "must be positive")
    async with ctx.database() as engine:
        materialiser = materialiser_for(ctx, engine)
        org = await materialiser.organisations.get_organisation(args.org)
        try:
            done = await materialiser.publish_now(org, what, item, audience, args.locale)
        except AudienceError as exc:
            raise ScheduleError(str(exc)) from None
        ctx.say("cli.send.queued", what=what.value, item=item, count=done.deliveries, org=org.slug)
        if not args.wait:
            ctx.print("A running `vipbot serve` sends it; see `vipbot schedule status` for the outcome.")
            return 0
        from bot.storage.outbox import SqlOutbox

        outbox = SqlOutbox(engine)
        progress = Progress(ctx.out, done.deliveries, "sending")
        deadline = time.monotonic() + args.timeout
        while True:
            stats = await outbox.stats(org.id, occurrence_id=done.occurrence.id)
            finished = stats.sent + stats.failed
            progress.show(finished, f" (failed {stats.failed})" if stats.failed else "")
            if finished >= done.deliveries or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        progress.close()
    for reason, count in stats.failures:
        ctx.print(f"  failed ×{count}: {reason}")
    if finished < done.deliveries:
        ctx.print(
            f"Still sending after {args.timeout:g} s: is `vipbot serve` running with VIPBOT_SCHEDULER on?"
        )
        return 1
    return 0 if stats.failed == 0 else 1

"""`vipbot pulse …`: open a pulse round by hand, list rounds, close due rounds.

Scheduled pulses are opened by the outreach schedule (`What.PULSE`); this is for a one-off round and for
operations. Nothing here shows answers: results are only ever shown by `vipbot insights`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.cli.context import CliContext
from bot.cli.schedule import add_audience_arguments, audience_from, check_item, materialiser_for
from bot.domain.clock import SystemClock
from bot.domain.outreach import AudienceError, What
from bot.domain.pulses import REMINDER_PREFIX, Pulse, PulseService
from bot.domain.tenancy import GroupTree, Organisation, Platform
from bot.errors import ConfigError, NotFoundError, VipbotError
from bot.usecases.pulses import PulseProblem, PulseRefusedError, close_round, open_round

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.catalog import ContentLibrary
    from bot.storage.organisations import SqlOrganisationRepository
    from bot.storage.pulses import SqlPulseStore


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "pulse", help="pulse rounds", description="Open, list and close pulse rounds."
    )
    sub = parser.add_subparsers(dest="pulse_command", required=True, metavar="COMMAND")
    open_ = sub.add_parser("open", help="open a round now", description="Open a round of a pulse set now.")
    open_.add_argument("org", help="organisation handle")
    open_.add_argument("pulse", help="pulse set id, e.g. wekelijkse-check-in")
    open_.add_argument("--group", help="handle of the group it is for (default: the whole organisation)")
    open_.add_argument("--days", type=int, help="days the round stays open (default: the pulse set's, 3)")
    open_.set_defaults(handler=run_open)
    for name, helptext in (
        ("send", "send a pulse now: opens a round and posts it to the audience"),
        ("remind", "remind the whole audience of the open round (never only those who have not answered)"),
    ):
        command = sub.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:] + ".")
        command.add_argument("org", help="organisation handle")
        command.add_argument("pulse", help="pulse set id, e.g. wekelijkse-check-in")
        add_audience_arguments(command)
        command.add_argument("--locale", choices=["nl", "en"], help="language (default: the organisation's)")
        command.set_defaults(handler=run_send, reminder=name == "remind")
    close_one = sub.add_parser(
        "close",
        help="close one round now",
        description="Close a round before its window ends: no more answers; its key and who-answered rows are "
        "destroyed at once. Its figures appear only when its month is released (over the floors).",
    )
    close_one.add_argument("org", help="organisation handle")
    close_one.add_argument("round", help="the round's id (see `vipbot pulse list`)")
    close_one.set_defaults(handler=run_close)
    lst = sub.add_parser("list", help="list rounds", description="List an organisation's pulse rounds.")
    lst.add_argument("org", help="organisation handle")
    lst.set_defaults(handler=run_list)
    close = sub.add_parser(
        "close-due",
        help="close rounds whose window has passed",
        description="Close every round whose window has passed: its key and participation rows are destroyed.",
    )
    close.set_defaults(handler=run_close_due)
    release = sub.add_parser(
        "release-due",
        help="publish the months whose rounds have all closed",
        description=(
            "Release every ended month whose rounds have all closed: pooled, the privacy noise drawn once and "
            "stored, charged to the month's privacy budget. The service does this every minute by itself."
        ),
    )
    release.set_defaults(handler=run_release_due)
    management = sub.add_parser(
        "management-channel",
        help="where management summaries go",
        description=(
            "Set the channel that receives the organisation's management summaries on a platform (one per "
            "platform). Management viewers with a chat address also get them in their DM."
        ),
    )
    management.add_argument("org", help="organisation handle")
    management.add_argument("--platform", choices=[p.value for p in Platform], required=True)
    management.add_argument("--workspace", required=True, help="Slack team id (T…) or Teams tenant id")
    management.add_argument(
        "--channel", required=True, help="Slack channel id (C…) or the Teams conversation reference key"
    )
    management.set_defaults(handler=run_management_channel)


def _organisations(engine: AsyncEngine) -> SqlOrganisationRepository:
    # Storage is imported when a command runs: `vipbot --help` and a bad setting need none of it.
    from bot.storage.db import session_factory
    from bot.storage.organisations import SqlOrganisationRepository

    return SqlOrganisationRepository(session_factory(engine))


def _store(ctx: CliContext, engine: AsyncEngine) -> SqlPulseStore:
    from bot.storage.pulses import SqlPulseStore, master_key_from

    settings = ctx.settings_with_key()
    if settings.secret_key is None:
        raise ConfigError("VIPBOT_SECRET_KEY", "is needed to seal pulse keys")
    return SqlPulseStore(engine, master_key_from(settings.secret_key.get_secret_value()))


async def run_open(args: argparse.Namespace, ctx: CliContext) -> int:
    content = ctx.content()
    async with ctx.database() as engine:
        repo = _organisations(engine)
        org = await repo.get_organisation(args.org)
        tree = await repo.group_tree(org.id)
        service = PulseService(_store(ctx, engine), content.catalog.pulse_sets, SystemClock())
        try:  # the same checks as the console's pulses page
            pulse = await open_round(
                service, content.catalog, org.id, tree, args.pulse, args.group, args.days
            )
        except PulseRefusedError as exc:
            if exc.problem is PulseProblem.STILL_OPEN and exc.pulse is not None:
                return _still_open(ctx, content, org, tree, exc.pulse)
            if exc.problem is PulseProblem.UNKNOWN_GROUP:
                raise NotFoundError(str(exc)) from None
            raise ConfigError(_OPTION_OF.get(exc.problem, "PULSE"), str(exc)) from None
    ctx.print(
        f"Opened round {pulse.id} of '{pulse.pulse_set_id}' until {pulse.closes_at:%Y-%m-%d %H:%M} UTC."
    )
    return 0


_OPTION_OF = {
    PulseProblem.SET_MISSING: "PULSE",
    PulseProblem.UNKNOWN_SET: "PULSE",
    PulseProblem.WINDOW: "--days",
}


async def run_close(args: argparse.Namespace, ctx: CliContext) -> int:
    content = ctx.content()
    async with ctx.database() as engine:
        org = await _organisations(engine).get_organisation(args.org)
        store = _store(ctx, engine)
        service = PulseService(store, content.catalog.pulse_sets, SystemClock())
        try:  # the same use case as the console's "close now"
            pulse = await close_round(service, store, org.id, args.round)
        except PulseRefusedError as exc:
            if exc.problem is PulseProblem.NOT_FOUND:
                raise NotFoundError(str(exc)) from None
            raise PulseError(str(exc)) from None
    ctx.print(
        f"Closed round {pulse.id} of '{pulse.pulse_set_id}'. Its figures appear once its month is released."
    )
    return 0


class PulseError(VipbotError):
    """A pulse action that cannot be done (a round closed already)."""


async def run_send(args: argparse.Namespace, ctx: CliContext) -> int:
    content = ctx.content()
    check_item(content, What.PULSE, args.pulse)
    audience = audience_from(args)
    item = f"{REMINDER_PREFIX}{args.pulse}" if args.reminder else args.pulse
    async with ctx.database() as engine:
        materialiser = materialiser_for(ctx, engine)
        org = await materialiser.organisations.get_organisation(args.org)
        try:
            done = await materialiser.publish_now(org, What.PULSE, item, audience, args.locale)
        except AudienceError as exc:
            raise ConfigError("--to", str(exc)) from None
    kind = "reminder for" if args.reminder else "round of"
    ctx.say("cli.pulse.queued", kind=kind, pulse=args.pulse, count=done.deliveries, org=org.slug)
    ctx.print("A running `vipbot serve` sends it; see `vipbot schedule status` for the outcome.")
    return 0


def _still_open(
    ctx: CliContext, content: ContentLibrary, org: Organisation, tree: GroupTree, pulse: Pulse
) -> int:
    """The refusal, in the organisation's language and time zone."""
    pulse_set = content.catalog.pulse_set(pulse.pulse_set_id)
    group = next((g.name for g in (*tree.groups, *pulse.tree.groups) if g.id == pulse.audience_group_id), "")
    until = pulse.closes_at.astimezone(ZoneInfo(org.timezone))
    message = content.translator.t(
        org.locale,
        "pulses.round_still_open",
        pulse=pulse_set.name.in_locale(org.locale) if pulse_set else pulse.pulse_set_id,
        group=group,
        date=f"{until:%d-%m-%Y %H:%M}",
    )
    print(f"vipbot: {message}", file=ctx.err)
    return 1


async def run_list(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        org = await _organisations(engine).get_organisation(args.org)
        store = _store(ctx, engine)
        rounds = [
            p for set_id in await store.pulse_set_ids(org.id) for p in await store.rounds(org.id, set_id)
        ]
    if not rounds:
        ctx.print("No pulse rounds yet. Open one with: vipbot pulse open ORG PULSE_SET")
    for p in sorted(rounds, key=lambda r: r.opened_at):
        ctx.print(f"{p.opened_at:%Y-%m-%d %H:%M}  {p.pulse_set_id:<28} {p.status.value:<7} {p.id}")
    return 0


async def run_management_channel(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        org = await _organisations(engine).get_organisation(args.org)
        await _store(ctx, engine).set_management_channel(
            org.id, Platform(args.platform), args.workspace, args.channel
        )
    ctx.print(f"Management summaries for '{org.slug}' on {args.platform} go to {args.channel}.")
    return 0


async def run_close_due(_args: argparse.Namespace, ctx: CliContext) -> int:
    content = ctx.content()
    async with ctx.database() as engine:
        service = PulseService(_store(ctx, engine), content.catalog.pulse_sets, SystemClock())
        closed = await service.close_due()
    ctx.say("cli.pulse.closed", count=len(closed))
    return 0


async def run_release_due(_args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.domain.insights import release_due
    from bot.security.noise import OpenDpNoise

    content = ctx.content()
    sets = {p.id: p for p in content.catalog.pulse_sets}
    released = 0
    async with ctx.database() as engine:
        store = _store(ctx, engine)
        noise = OpenDpNoise()
        for organisation_id in await store.organisation_ids():
            released += len(await release_due(store, sets, organisation_id, SystemClock().now(), noise))
    ctx.say("cli.pulse.released", count=released)
    return 0

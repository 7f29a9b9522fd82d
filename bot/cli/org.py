"""`vipbot org …`: client organisations, their group tree and channel bindings."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.cli.context import CLI_LOCALE, CliContext
from bot.domain.clock import SystemClock
from bot.domain.tenancy import GroupKind, GroupTree, Organisation, Platform, slugify
from bot.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.storage.organisations import SqlOrganisationRepository


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "org",
        help="client organisations and their groups",
        description="Client organisations, their tree of departments and teams, and the channels bound to them.",
    )
    sub = parser.add_subparsers(dest="org_command", required=True, metavar="COMMAND")

    add = sub.add_parser("add", help="add a client organisation", description="Add a client organisation.")
    add.add_argument("name", help="the organisation's name, e.g. 'Zorggroep De Linde'")
    add.add_argument("--slug", help="short handle used in commands and links (default: from the name)")
    add.add_argument("--timezone", default=None, help="IANA time zone (default: VIPBOT_DEFAULT_TIMEZONE)")
    add.add_argument("--locale", choices=["nl", "en"], default="nl", help="default language (default: nl)")
    add.add_argument(
        "--retention-days",
        type=int,
        default=None,
        help="days a confidential conversation is kept after its last activity (default 90)",
    )
    add.set_defaults(handler=run_add)

    lst = sub.add_parser("list", help="list organisations", description="List the client organisations.")
    lst.set_defaults(handler=run_list)

    show = sub.add_parser(
        "show",
        help="show an organisation's groups and channels",
        description="Show an organisation's group tree with its channel bindings.",
    )
    show.add_argument("org", help="organisation handle")
    show.set_defaults(handler=run_show)

    group = sub.add_parser("group", help="departments and teams", description="Departments and teams.")
    gsub = group.add_subparsers(dest="group_command", required=True, metavar="COMMAND")
    _add_commands(gsub, GROUP_COMMANDS[:1])
    glist = gsub.add_parser("list", help="list groups", description="List an organisation's groups.")
    glist.add_argument("org", help="organisation handle")
    glist.set_defaults(handler=run_show)
    # Restructuring keeps a group's identity (its lineage), so pulse results stay with its people: rename, move,
    # merge and split instead of remove + add.
    _add_commands(gsub, GROUP_COMMANDS[1:])
    _add_commands(sub, BINDING_COMMANDS)


def _organisations(engine: AsyncEngine) -> SqlOrganisationRepository:
    # Storage is imported when a command runs: `vipbot --help` and a bad setting need none of it.
    from bot.storage.db import session_factory
    from bot.storage.organisations import SqlOrganisationRepository

    return SqlOrganisationRepository(session_factory(engine))


async def run_add(args: argparse.Namespace, ctx: CliContext) -> int:
    settings = ctx.settings()
    timezone = args.timezone or settings.default_timezone
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("--timezone", f"'{timezone}' is not a known IANA time zone") from None
    retention = args.retention_days or settings.retention_days
    if not 1 <= retention <= 3650:
        raise ConfigError("--retention-days", "must be between 1 and 3650")
    async with ctx.database() as engine:
        repo = _organisations(engine)
        org = await repo.add_organisation(
            args.name, args.slug or slugify(args.name), timezone, args.locale, retention
        )
    ctx.print(f"Added organisation '{org.name}' as '{org.slug}' ({org.timezone}, {org.locale}).")
    return 0


async def run_list(_args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        organisations = await _organisations(engine).list_organisations()
    if not organisations:
        ctx.print("No organisations yet. Add one with: vipbot org add NAME")
        return 0
    t = ctx.content().translator
    for org in organisations:
        retention = t.t(CLI_LOCALE, "cli.org.retention", count=org.retention_days)
        ctx.print(f"{org.slug:<24} {org.name}  ({org.timezone}, {org.locale}, {retention})")
    return 0


async def run_show(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        repo = _organisations(engine)
        org = await repo.get_organisation(args.org)
        tree = await repo.group_tree(org.id)
        bindings = await repo.bindings(org.id)
    channels: dict[object, list[str]] = {}
    for b in bindings:
        label = f"{b.platform.value}:{b.channel_name or b.channel_id}{' (archived)' if b.archived else ''}"
        channels.setdefault(b.group_id, []).append(label)
    for line in _tree_lines(tree, channels):
        ctx.print(line)
    return 0


def _tree_lines(tree: GroupTree, channels: dict[object, list[str]]) -> list[str]:
    lines: list[str] = []

    def visit(group_id: object, depth: int) -> None:
        group = next(g for g in tree.groups if g.id == group_id)
        bound = f"  → {', '.join(channels[group.id])}" if group.id in channels else ""
        lines.append(f"{'  ' * depth}{group.name} [{group.kind.value}: {group.slug}]{bound}")
        for child in tree.children(group.id):
            visit(child.id, depth + 1)

    visit(tree.root.id, 0)
    return lines


# --- the commands that change one organisation: what they take, and what they do ----------------------------

Act = Callable[["SqlOrganisationRepository", Organisation, argparse.Namespace], Awaitable[str]]


@dataclass(frozen=True)
class OrgCommand:
    """A command that finds one organisation (its first argument), changes it and says in one line what it did."""

    name: str
    help: str
    description: str
    arguments: tuple[tuple[tuple[str, ...], dict[str, Any]], ...]
    act: Act


def _arg(*flags: str, **options: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    return flags, options


ORG = _arg("org", help="organisation handle")
GROUP = _arg("group", help="group handle")
PLATFORM = _arg("--platform", choices=[p.value for p in Platform], required=True)


def _add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], commands: Sequence[OrgCommand]
) -> None:
    for command in commands:
        parser = sub.add_parser(command.name, help=command.help, description=command.description)
        for flags, options in (ORG, *command.arguments):
            parser.add_argument(*flags, **options)
        parser.set_defaults(handler=partial(_run, command.act))


async def _run(act: Act, args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        repo = _organisations(engine)
        org = await repo.get_organisation(args.org)
        said = await act(repo, org, args)
    ctx.print(said)
    return 0


async def _group_add(repo: SqlOrganisationRepository, org: Organisation, args: argparse.Namespace) -> str:
    group = await repo.add_group(org.id, args.name, GroupKind(args.kind), args.parent)
    return f"Added {group.kind.value} '{group.name}' as '{group.slug}' to {org.slug}."


async def _group_remove(repo: SqlOrganisationRepository, org: Organisation, args: argparse.Namespace) -> str:
    await repo.remove_group(org.id, args.group)
    return f"Removed '{args.group}' and everything under it from {org.slug}."


async def _group_rename(repo: SqlOrganisationRepository, org: Organisation, args: argparse.Namespace) -> str:
    group = await repo.rename_group(org.id, args.group, args.name)
    return f"Renamed '{args.group}' to '{group.name}' ({group.slug}) in {org.slug}."


async def _group_move(repo: SqlOrganisationRepository, org: Organisation, args: argparse.Namespace) -> str:
    await repo.move_group(org.id, args.group, args.parent)
    return f"Moved '{args.group}' under '{args.parent}' in {org.slug}."


async def _group_merge(repo: SqlOrganisationRepository, org: Organisation, args: argparse.Namespace) -> str:
    await repo.merge_groups(org.id, args.group, args.into, SystemClock().now())
    return f"Merged '{args.group}' into '{args.into}' in {org.slug}."


async def _group_split(repo: SqlOrganisationRepository, org: Organisation, args: argparse.Namespace) -> str:
    group = await repo.split_group(org.id, args.group, args.name, SystemClock().now(), args.channel)
    return f"Split '{group.name}' ({group.slug}) off '{args.group}' in {org.slug}."


async def _bind(repo: SqlOrganisationRepository, org: Organisation, args: argparse.Namespace) -> str:
    binding = await repo.bind_channel(
        org.id, args.group, Platform(args.platform), args.workspace, args.channel, args.name
    )
    return f"Bound {binding.platform.value} channel {binding.channel_id} to '{args.group}' in {org.slug}."


async def _unbind(repo: SqlOrganisationRepository, org: Organisation, args: argparse.Namespace) -> str:
    await repo.unbind_channel(org.id, Platform(args.platform), args.channel)
    return f"Removed the binding of {args.platform} channel {args.channel} in {org.slug}."


GROUP_COMMANDS = (
    OrgCommand(
        "add",
        "add a department or team",
        "Add a department (under the organisation) or a team (under a department).",
        (
            _arg("name", help="the group's name"),
            _arg("--kind", choices=[GroupKind.DEPARTMENT.value, GroupKind.TEAM.value], required=True),
            _arg("--parent", help="handle of the parent group (a department, for a team)"),
        ),
        _group_add,
    ),
    OrgCommand(
        "remove",
        "remove a group and everything under it",
        "Remove a group, its sub-groups and their channel bindings.",
        (GROUP,),
        _group_remove,
    ),
    OrgCommand(
        "rename",
        "rename a group",
        "Give a group a new name.",
        (GROUP, _arg("name", help="the new name")),
        _group_rename,
    ),
    OrgCommand(
        "move",
        "move a team to another department",
        "Put a group under another parent.",
        (GROUP, _arg("--parent", required=True, help="handle of the new parent group")),
        _group_move,
    ),
    OrgCommand(
        "merge",
        "merge a group into another",
        "Merge a group into another of the same kind: its sub-groups and channels move over.",
        (
            _arg("group", help="handle of the group that goes"),
            _arg("--into", required=True, help="handle of the group it goes into"),
        ),
        _group_merge,
    ),
    OrgCommand(
        "split",
        "split a new group off a group",
        "Make a new group beside a group (same parent, same kind), taking the given channels.",
        (
            _arg("group", help="handle of the group that is split"),
            _arg("name", help="the new group's name"),
            _arg("--channel", action="append", default=[], help="a channel id that moves to the new group"),
        ),
        _group_split,
    ),
)

BINDING_COMMANDS = (
    OrgCommand(
        "bind",
        "bind a Slack or Teams channel to a group",
        "Bind a platform channel to a group, so outreach for the group goes there.",
        (
            GROUP,
            PLATFORM,
            _arg("--workspace", required=True, help="Slack team id (T…) or Teams tenant id"),
            _arg("--channel", required=True, help="Slack channel id (C…) or Teams conversation id"),
            _arg("--name", help="the channel's display name"),
        ),
        _bind,
    ),
    OrgCommand(
        "unbind",
        "remove a channel binding",
        "Remove a channel binding.",
        (PLATFORM, _arg("--channel", required=True)),
        _unbind,
    ),
)

"""`vipbot org …`: client organisations, their group tree and channel bindings."""

from __future__ import annotations

import argparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.cli.context import CLI_LOCALE, CliContext
from bot.domain.clock import SystemClock
from bot.domain.tenancy import GroupKind, GroupTree, Platform, slugify
from bot.errors import ConfigError
from bot.storage.db import session_factory
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
    gadd = gsub.add_parser(
        "add",
        help="add a department or team",
        description="Add a department (under the organisation) or a team (under a department).",
    )
    gadd.add_argument("org", help="organisation handle")
    gadd.add_argument("name", help="the group's name")
    gadd.add_argument("--kind", choices=[GroupKind.DEPARTMENT.value, GroupKind.TEAM.value], required=True)
    gadd.add_argument("--parent", help="handle of the parent group (a department, for a team)")
    gadd.set_defaults(handler=run_group_add)
    glist = gsub.add_parser("list", help="list groups", description="List an organisation's groups.")
    glist.add_argument("org", help="organisation handle")
    glist.set_defaults(handler=run_show)
    gremove = gsub.add_parser(
        "remove",
        help="remove a group and everything under it",
        description="Remove a group, its sub-groups and their channel bindings.",
    )
    gremove.add_argument("org", help="organisation handle")
    gremove.add_argument("group", help="group handle")
    gremove.set_defaults(handler=run_group_remove)
    _register_restructuring(gsub)

    bind = sub.add_parser(
        "bind",
        help="bind a Slack or Teams channel to a group",
        description="Bind a platform channel to a group, so outreach for the group goes there.",
    )
    bind.add_argument("org", help="organisation handle")
    bind.add_argument("group", help="group handle")
    bind.add_argument("--platform", choices=[p.value for p in Platform], required=True)
    bind.add_argument("--workspace", required=True, help="Slack team id (T…) or Teams tenant id")
    bind.add_argument("--channel", required=True, help="Slack channel id (C…) or Teams conversation id")
    bind.add_argument("--name", help="the channel's display name")
    bind.set_defaults(handler=run_bind)

    unbind = sub.add_parser(
        "unbind", help="remove a channel binding", description="Remove a channel binding."
    )
    unbind.add_argument("org", help="organisation handle")
    unbind.add_argument("--platform", choices=[p.value for p in Platform], required=True)
    unbind.add_argument("--channel", required=True)
    unbind.set_defaults(handler=run_unbind)


def _register_restructuring(gsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Restructuring keeps a group's identity (its lineage), so pulse results stay with its people: use these
    instead of remove + add."""
    grename = gsub.add_parser("rename", help="rename a group", description="Give a group a new name.")
    grename.add_argument("org", help="organisation handle")
    grename.add_argument("group", help="group handle")
    grename.add_argument("name", help="the new name")
    grename.set_defaults(handler=run_group_rename)
    gmove = gsub.add_parser(
        "move", help="move a team to another department", description="Put a group under another parent."
    )
    gmove.add_argument("org", help="organisation handle")
    gmove.add_argument("group", help="group handle")
    gmove.add_argument("--parent", required=True, help="handle of the new parent group")
    gmove.set_defaults(handler=run_group_move)
    gmerge = gsub.add_parser(
        "merge",
        help="merge a group into another",
        description="Merge a group into another of the same kind: its sub-groups and channels move over.",
    )
    gmerge.add_argument("org", help="organisation handle")
    gmerge.add_argument("group", help="handle of the group that goes")
    gmerge.add_argument("--into", required=True, help="handle of the group it goes into")
    gmerge.set_defaults(handler=run_group_merge)
    gsplit = gsub.add_parser(
        "split",
        help="split a new group off a group",
        description="Make a new group beside a group (same parent, same kind), taking the given channels.",
    )
    gsplit.add_argument("org", help="organisation handle")
    gsplit.add_argument("group", help="handle of the group that is split")
    gsplit.add_argument("name", help="the new group's name")
    gsplit.add_argument(
        "--channel", action="append", default=[], help="a channel id that moves to the new group"
    )
    gsplit.set_defaults(handler=run_group_split)


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
        repo = SqlOrganisationRepository(session_factory(engine))
        org = await repo.add_organisation(
            args.name, args.slug or slugify(args.name), timezone, args.locale, retention
        )
    ctx.print(f"Added organisation '{org.name}' as '{org.slug}' ({org.timezone}, {org.locale}).")
    return 0


async def run_list(_args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        organisations = await SqlOrganisationRepository(session_factory(engine)).list_organisations()
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
        repo = SqlOrganisationRepository(session_factory(engine))
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


async def run_group_add(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        repo = SqlOrganisationRepository(session_factory(engine))
        org = await repo.get_organisation(args.org)
        group = await repo.add_group(org.id, args.name, GroupKind(args.kind), args.parent)
    ctx.print(f"Added {group.kind.value} '{group.name}' as '{group.slug}' to {org.slug}.")
    return 0


async def run_group_remove(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        repo = SqlOrganisationRepository(session_factory(engine))
        org = await repo.get_organisation(args.org)
        await repo.remove_group(org.id, args.group)
    ctx.print(f"Removed '{args.group}' and everything under it from {org.slug}.")
    return 0


async def run_bind(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        repo = SqlOrganisationRepository(session_factory(engine))
        org = await repo.get_organisation(args.org)
        binding = await repo.bind_channel(
            org.id, args.group, Platform(args.platform), args.workspace, args.channel, args.name
        )
    ctx.print(f"Bound {binding.platform.value} channel {binding.channel_id} to '{args.group}' in {org.slug}.")
    return 0


async def run_unbind(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        repo = SqlOrganisationRepository(session_factory(engine))
        org = await repo.get_organisation(args.org)
        await repo.unbind_channel(org.id, Platform(args.platform), args.channel)
    ctx.print(f"Removed the binding of {args.platform} channel {args.channel} in {org.slug}.")
    return 0


async def run_group_rename(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        repo = SqlOrganisationRepository(session_factory(engine))
        org = await repo.get_organisation(args.org)
        group = await repo.rename_group(org.id, args.group, args.name)
    ctx.print(f"Renamed '{args.group}' to '{group.name}' ({group.slug}) in {org.slug}.")
    return 0


async def run_group_move(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        repo = SqlOrganisationRepository(session_factory(engine))
        org = await repo.get_organisation(args.org)
        await repo.move_group(org.id, args.group, args.parent)
    ctx.print(f"Moved '{args.group}' under '{args.parent}' in {org.slug}.")
    return 0


async def run_group_merge(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        repo = SqlOrganisationRepository(session_factory(engine))
        org = await repo.get_organisation(args.org)
        await repo.merge_groups(org.id, args.group, args.into, SystemClock().now())
    ctx.print(f"Merged '{args.group}' into '{args.into}' in {org.slug}.")
    return 0


async def run_group_split(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        repo = SqlOrganisationRepository(session_factory(engine))
        org = await repo.get_organisation(args.org)
        group = await repo.split_group(org.id, args.group, args.name, SystemClock().now(), args.channel)
    ctx.print(f"Split '{group.name}' ({group.slug}) off '{args.group}' in {org.slug}.")
    return 0

"""`vipbot teams …`: the Teams app package, and linking Teams tenants to organisations."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.context import CliContext
from bot.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.storage.teams_references import TeamsReferenceStore


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    teams = commands.add_parser("teams", help="Microsoft Teams: app package, tenants, conversations")
    sub = teams.add_subparsers(dest="teams_command", required=True, metavar="COMMAND")

    package = sub.add_parser(
        "package",
        help="write the Teams app zip (manifest and icons) to upload in Teams",
        description="Write the Teams app package: manifest.json (schema v1.19, Dutch with English strings), "
        "color.png and outline.png. Upload it in Teams or the Teams admin center.",
    )
    package.add_argument(
        "--app-id", required=True, help="the bot's Microsoft App ID (MICROSOFT_APP_ID), a GUID"
    )
    package.add_argument(
        "--url", required=True, help="vipbot's public https address, e.g. https://vp.example.nl"
    )
    package.add_argument("--output", type=Path, default=Path("vipbot-teams.zip"), help="zip to write")
    package.add_argument("--version", default="1.0.0", help="app version; raise it for every re-upload")
    package.add_argument("--name", default="vipbot", help="the app's name in Teams (max 30 characters)")
    package.add_argument("--developer", default="vipbot", help="publisher name shown in Teams")
    package.add_argument("--privacy-url", help="privacy statement (default: the portal)")
    package.add_argument("--terms-url", help="terms of use (default: the portal)")
    package.add_argument("--teams-app-id", help="the Teams app id if it differs from the bot's app id")
    package.set_defaults(handler=run_package)

    connect = sub.add_parser(
        "connect",
        help="link a Teams tenant (Microsoft 365 tenant id) to an organisation",
        description="Messages from this tenant then belong to the organisation; installs store references.",
    )
    connect.add_argument("organisation", help="organisation handle or id")
    connect.add_argument("tenant", help="the Microsoft 365 tenant id (a GUID)")
    connect.set_defaults(handler=run_connect)

    disconnect = sub.add_parser("disconnect", help="unlink a tenant and forget its conversations")
    disconnect.add_argument("organisation", help="organisation handle or id")
    disconnect.add_argument("tenant", help="the Microsoft 365 tenant id")
    disconnect.set_defaults(handler=run_disconnect)

    conversations = sub.add_parser(
        "conversations",
        help="list the organisation's Teams channels and chats the bot is installed in",
        description="Shows each conversation's address; bind a channel to a group with "
        "`vipbot org bind ORG GROUP --platform teams --workspace TENANT --channel ADDRESS`.",
    )
    conversations.add_argument("organisation", help="organisation handle or id")
    conversations.set_defaults(handler=run_conversations)


async def run_package(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.adapters.teams.manifest import PackageSpec, build_package

    spec = PackageSpec(
        app_id=args.app_id,
        base_url=args.url,
        version=args.version,
        name=args.name,
        developer=args.developer,
        privacy_url=args.privacy_url,
        terms_url=args.terms_url,
        teams_app_id=args.teams_app_id,
    )
    problems = spec.problems()
    if problems:
        raise ConfigError("teams package", "; ".join(problems))
    data = build_package(spec, ctx.content().translator)
    args.output.write_bytes(data)
    ctx.print(
        f"Wrote {args.output} ({len(data)} bytes). Upload it in Teams: Apps → Manage your apps → Upload an app."
    )
    return 0


def _store(ctx: CliContext, engine: AsyncEngine) -> TeamsReferenceStore:
    # Storage is imported when a command runs: `vipbot --help` and a bad setting need none of it.
    from bot.storage.db import session_factory
    from bot.storage.teams_references import TeamsReferenceStore, master_key_from

    settings = ctx.settings_with_key()
    if settings.secret_key is None:  # ensure_secret_key always sets one
        raise ConfigError("VIPBOT_SECRET_KEY", "is needed to read Teams conversation references")
    return TeamsReferenceStore(
        session_factory(engine), master_key_from(settings.secret_key.get_secret_value())
    )


async def run_connect(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.storage.db import session_factory
    from bot.storage.organisations import SqlOrganisationRepository

    async with ctx.database() as engine:
        org = await SqlOrganisationRepository(session_factory(engine)).get_organisation(args.organisation)
        await _store(ctx, engine).connect_tenant(org.id, args.tenant)
    ctx.print(f"Teams tenant {args.tenant} belongs to {org.slug} now.")
    return 0


async def run_disconnect(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.storage.db import session_factory
    from bot.storage.organisations import SqlOrganisationRepository

    async with ctx.database() as engine:
        org = await SqlOrganisationRepository(session_factory(engine)).get_organisation(args.organisation)
        removed = await _store(ctx, engine).disconnect_tenant(org.id, args.tenant)
    ctx.say("cli.teams.unlinked", tenant=args.tenant, org=org.slug, count=removed)
    return 0


async def run_conversations(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.storage.db import session_factory
    from bot.storage.organisations import SqlOrganisationRepository
    from bot.storage.teams_references import TeamsScope

    async with ctx.database() as engine:
        org = await SqlOrganisationRepository(session_factory(engine)).get_organisation(args.organisation)
        stored = await _store(ctx, engine).list_references(org.id)
    people = [s for s in stored if s.reference.scope in {TeamsScope.PERSONAL, TeamsScope.MEMBER}]
    for item in stored:
        ref = item.reference
        if ref.scope in {TeamsScope.PERSONAL, TeamsScope.MEMBER}:
            continue
        where = " / ".join(filter(None, [ref.team_name, ref.channel_name])) or ref.scope.value
        ctx.print(f"{item.address}  {ref.scope.value:<10}  tenant {ref.tenant_id}  {where}")
    ctx.say("cli.teams.chats", count=len(people))
    return 0

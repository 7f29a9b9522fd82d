"""`vipbot slack …`: the app manifest, linking a workspace to an organisation, install links."""

from __future__ import annotations

import argparse
import json

from bot.cli.context import CliContext
from bot.domain.delivery import DeliveryError, DeliveryFailureKind
from bot.errors import ConfigError, PlatformError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "slack",
        help="Slack: app manifest, workspace links, install links",
        description="Set up the Slack app: print its manifest, link a workspace to an organisation, "
        "or print an organisation's install link (OAuth distribution).",
    )
    sub = parser.add_subparsers(dest="slack_command", required=True, metavar="COMMAND")

    manifest = sub.add_parser(
        "manifest",
        help="print the Slack app manifest (JSON)",
        description="Print the app manifest: paste it at api.slack.com/apps → Create New App → From a manifest.",
    )
    manifest.add_argument("--url", help="the service's public https:// address (default: VIPBOT_BASE_URL)")
    manifest.add_argument("--locale", choices=["nl", "en"], default="nl", help="language of the app's texts")
    manifest.add_argument("--name", default="vipbot", help="the app's name in Slack (default: vipbot)")
    manifest.add_argument(
        "--socket-mode", action="store_true", help="for Socket Mode (SLACK_APP_TOKEN): no public request URLs"
    )
    manifest.set_defaults(handler=run_manifest)

    link = sub.add_parser(
        "link",
        help="link a Slack workspace to an organisation",
        description="Link the workspace of SLACK_BOT_TOKEN (asked with auth.test) or --workspace to ORG. "
        "Single-workspace installs need this once; OAuth installs link themselves.",
    )
    link.add_argument("org", help="the organisation's handle")
    link.add_argument(
        "--workspace", help="the Slack team id (T…) instead of asking Slack with SLACK_BOT_TOKEN"
    )
    link.set_defaults(handler=run_link)

    url = sub.add_parser(
        "install-url",
        help="print the install link of an organisation (OAuth distribution)",
        description="The link a workspace admin of ORG opens to install the app; the installation is then "
        "linked to ORG.",
    )
    url.add_argument("org", help="the organisation's handle")
    url.set_defaults(handler=run_install_url)


async def run_manifest(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.adapters.slack.manifest import app_manifest

    settings = ctx.settings()
    base = args.url or settings.base_url
    if not base:
        raise ConfigError("--url", "give the service's public address, e.g. --url https://vipbot.example.nl")
    if not base.startswith("https://") and not args.socket_mode:
        raise ConfigError("--url", "Slack only calls https:// addresses")
    manifest = app_manifest(
        ctx.content().translator, base, locale=args.locale, socket_mode=args.socket_mode, name=args.name
    )
    ctx.print(json.dumps(manifest, indent=2, ensure_ascii=False))
    return 0


async def run_link(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.adapters.slack.service import master_key_of
    from bot.security.secret import Secret
    from bot.storage.db import session_factory
    from bot.storage.organisations import SqlOrganisationRepository
    from bot.storage.slack_installations import SqlSlackInstallations

    settings = ctx.settings_with_key()
    workspace = args.workspace
    team_name = ""
    if not workspace:
        token = settings.slack_bot_token
        if token is None:
            raise ConfigError(
                "SLACK_BOT_TOKEN", "is needed to ask Slack which workspace to link (or use --workspace)"
            )
        from bot.adapters.slack.gateway import workspace_of_token

        try:
            workspace, team_name = await workspace_of_token(
                settings.slack_api_url, Secret(token.get_secret_value())
            )
        except DeliveryError as exc:
            raise PlatformError(slack_problem(exc, settings.slack_api_url)) from None
    async with ctx.database() as engine:
        sessions = session_factory(engine)
        organisation = await SqlOrganisationRepository(sessions).get_organisation(args.org)
        installations = SqlSlackInstallations(sessions, master_key_of(settings))
        created = await installations.link(organisation.id, workspace)
    shown = f"{workspace} ({team_name})" if team_name else workspace
    verb = "linked to" if created else "was already linked to"
    ctx.print(f"Slack workspace {shown} {verb} {organisation.name}")
    return 0


def slack_problem(exc: DeliveryError, api_url: str) -> str:
    """One line on why Slack did not answer `auth.test`, and what to do about it."""
    if exc.kind is DeliveryFailureKind.RATE_LIMITED:
        return f"Slack is rate limiting this token; try again in {exc.retry_after or 60:.0f} s"
    if exc.kind is DeliveryFailureKind.TRANSIENT:
        return (
            f"cannot reach Slack at {api_url} ({exc.reason}); check the network or SLACK_API_URL, then retry"
        )
    return f"Slack refused the bot token ({exc.reason}); check SLACK_BOT_TOKEN"


async def run_install_url(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.storage.db import session_factory
    from bot.storage.organisations import SqlOrganisationRepository

    settings = ctx.settings()
    if not settings.slack_client_id:
        raise ConfigError("SLACK_CLIENT_ID", "install links are for OAuth distribution; set SLACK_CLIENT_ID")
    async with ctx.database() as engine:
        organisation = await SqlOrganisationRepository(session_factory(engine)).get_organisation(args.org)
    ctx.print(f"{settings.public_base_url}/slack/install?org={organisation.slug}")
    return 0

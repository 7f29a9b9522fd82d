"""The composition root: builds every service once and wires them into one aiohttp application."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import wiring
from bot.catalog import ContentLibrary
from bot.domain.clock import Clock
from bot.domain.delivery import RendererRegistry, Target, TargetKind
from bot.domain.home import NoSessions, UpcomingSession
from bot.domain.i18n import Translator
from bot.domain.outreach import Member
from bot.domain.secret import Secret
from bot.domain.slack_workspaces import SlackStores
from bot.domain.teams_references import TeamsReferences, TeamsScope
from bot.domain.tenancy import Platform
from bot.settings import Settings
from bot.storage.db import close_engine
from bot.storage.home import HomeInfoSource
from bot.storage.team_sessions import SqlTeamSessionStore
from bot.storage.teams_references import TeamsReferenceStore, master_key_from
from bot.web.observability import health_handler, observe
from bot.wiring import SERVICES, FeatureInstaller, MemberSource, PlatformRegistry

__all__ = [
    "SERVICES",
    "FeatureInstaller",
    "MemberSource",
    "PlatformRegistry",
    "Services",
    "build_app",
    "build_services",
    "feature_installers",
    "platform_registries",
    "settle_heap",
    "teams_members",
]


def platform_registries(translator: Translator) -> dict[Platform, PlatformRegistry]:
    """Both platforms with every post type registered: the same for the service, the CLI and the console."""
    from bot.adapters.slack.posts import register_posts as slack_posts
    from bot.adapters.teams.posts import register_posts as teams_posts

    registries = {}
    for platform, register in ((Platform.SLACK, slack_posts), (Platform.TEAMS, teams_posts)):
        renderers = RendererRegistry(platform)
        register(renderers, translator)
        registries[platform] = PlatformRegistry(platform, renderers)
    return registries


class _LateCalendar:
    """The session calendar as it is when asked: outreach sets `services.session_calendar` after the stores."""

    def __init__(self, services: wiring.Services) -> None:
        self._services = services

    async def upcoming(self, organisation_id: UUID, now: datetime, limit: int) -> list[UpcomingSession]:
        calendar = self._services.session_calendar or NoSessions()
        return await calendar.upcoming(organisation_id, now, limit)


def _slack_stores(services: wiring.Services, master_key: Secret[bytes]) -> SlackStores:
    from bot.storage.members import SqlMemberSource
    from bot.storage.slack_channels import SqlSlackChannelBindings
    from bot.storage.slack_grid import SqlSlackGrid
    from bot.storage.slack_installations import SqlSlackInstallations, SqlSlackOAuthStates

    installations = SqlSlackInstallations(services.sessions, master_key)
    return SlackStores(
        installations=installations,
        oauth_states=SqlSlackOAuthStates(services.sessions),
        grid=SqlSlackGrid(services.engine, installations),
        channels=SqlSlackChannelBindings(services.sessions),
        members=SqlMemberSource(services.engine),
    )


@dataclass
class Services(wiring.Services):
    """`bot.wiring.Services` as the composition root makes it: every platform's registry filled in, and the
    stores the adapters are handed (they never build storage objects themselves).

    Tests make it directly; `build_services` adds the features that need the database's outreach tables."""

    def __post_init__(self) -> None:
        from bot.storage.audit import SqlAuditStore
        from bot.usecases.audit import AuditLog

        self.audit = AuditLog(SqlAuditStore(self.engine), self.clock, self.settings.audit_retention_days)
        if not self.platforms:
            self.platforms = platform_registries(self.content.translator)
        if self.home is None:
            self.home = HomeInfoSource(
                self.sessions,
                self.content.catalog,
                _LateCalendar(self),
                self.clock,
                self.settings.public_portal_url,
                self.settings.public_base_url,
            )
        key = self.settings.secret_key
        if key is not None:
            master_key = master_key_from(key.get_secret_value())
            if self.slack_stores is None:
                self.slack_stores = _slack_stores(self, master_key)
            if self.team_sessions is None:
                self.team_sessions = SqlTeamSessionStore(self.sessions, master_key)
            if self.teams_references is None and self.settings.teams_enabled:
                self.teams_references = TeamsReferenceStore(self.sessions, master_key)
        teams = self.platforms[Platform.TEAMS]
        if teams.members is None and self.teams_references is not None:
            teams.members = teams_members(self.teams_references)


def build_services(
    settings: Settings, clock: Clock, engine: AsyncEngine, content: ContentLibrary
) -> Services:
    """The composition root, shared by `vipbot serve` and the CLI: everything built once, in dependency order.

    The platform registries first (renderers, the Teams member source), then outreach (its materialiser takes
    the member sources), then pulses (their post factory is registered with outreach). The features' `install`
    functions then mount routes and start what runs in the background.
    """
    from bot.domain.outreach import What
    from scheduler.service import outreach_of

    services = Services(settings=settings, clock=clock, engine=engine, content=content)
    outreach = outreach_of(services)
    services.session_calendar = outreach.team_sessions
    if settings.secret_key is not None:
        from bot.reporting.service import build_pulses

        services.pulses = build_pulses(services)
        outreach.posts.register(What.PULSE, services.pulses)
    return services


def teams_members(store: TeamsReferences) -> MemberSource:
    """People the Teams adapter can write to directly: its personal and team-member conversation references."""

    async def members(organisation_id: UUID) -> list[Member]:
        found: list[Member] = []
        for scope in (TeamsScope.PERSONAL, TeamsScope.MEMBER):
            for stored in await store.list_references(organisation_id, scope):
                target = Target(Platform.TEAMS, stored.reference.tenant_id, TargetKind.PERSON, stored.address)
                found.append(Member(target, stored.reference.locale))
        return found

    return members


def feature_installers() -> list[FeatureInstaller]:
    """Every feature of the service, in mount order. Imported here so that nothing is imported at module load."""
    from bot.adapters import slack, teams
    from bot.reporting import service as pulses
    from bot.web import console, photos, root
    from bot.web.portal import routes as portal
    from scheduler import service as outreach

    return [
        root.install,
        photos.install,
        console.install,
        slack.install,
        teams.install,
        portal.install,
        outreach.install,
        pulses.install,
    ]


def build_platforms(services: wiring.Services) -> None:
    """The chat platforms' runtime objects for a process that serves HTTP: the Slack app with its listeners and
    gateway, the Teams runtime with its card-submit routes. Built here, before any feature is installed; the
    adapters' `install` then only mounts their routes and start/stop hooks."""
    from bot.adapters.slack.service import SlackFeature, build_slack
    from bot.adapters.teams import build_runtime

    if services.slack is None:
        services.slack = build_slack(services)
    slack = services.slack
    if slack is not None:
        services.platforms[Platform.SLACK].gateway = slack.gateway
    if isinstance(slack, SlackFeature):
        from bot.adapters.slack.channels import SlackChannelDirectory

        services.platforms[Platform.SLACK].channels = SlackChannelDirectory(
            services.settings.slack_api_url, slack.clients.tokens
        )
    if services.teams is None:
        services.teams = build_runtime(services)


def build_app(services: wiring.Services, features: list[FeatureInstaller] | None = None) -> web.Application:
    # The largest body taken: a file sent through the portal (or the console's inbox), plus the form around it.
    body_limit = max(1, services.settings.portal_file_mb + 1) * 1024**2
    app = web.Application(middlewares=[observe(services.metrics)], client_max_size=body_limit)
    app[SERVICES] = services
    app.router.add_get("/healthz", health_handler(services.engine))
    build_platforms(services)
    for install in feature_installers() if features is None else features:
        install(app, services)

    async def dispose_engine(_app: web.Application) -> None:
        await close_engine(services.engine)

    app.on_cleanup.append(dispose_engine)
    return app


def settle_heap() -> None:
    """Once the service has started: move everything built so far out of the garbage collector's way.

    Imports, content and the route tables are some 180,000 objects that live as long as the process. A full
    collection walks them all (about 70 ms here), and under load that pause lands on whichever requests are in
    flight; frozen, a full collection costs next to nothing.
    """
    gc.collect()
    gc.freeze()

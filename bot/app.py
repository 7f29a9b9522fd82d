"""The composition root: builds every service once and wires them into one aiohttp application."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import UUID

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import ContentLibrary
from bot.domain.clock import Clock
from bot.domain.delivery import Gateway, RendererRegistry, Target, TargetKind
from bot.domain.home import SessionCalendar
from bot.domain.i18n import Translator
from bot.domain.outreach import Member
from bot.domain.tenancy import Platform
from bot.security.passwords import DEFAULT_PASSWORD_POLICY, PasswordPolicy
from bot.settings import Settings
from bot.storage.db import session_factory
from bot.storage.organisations import SqlOrganisationRepository
from bot.usecases.audit import AuditLog
from bot.web.observability import Metrics, health_handler, observe

if TYPE_CHECKING:
    from prometheus_client import Counter

    from bot.adapters.slack.service import SlackFeature
    from bot.adapters.teams.submits import SubmitRoutes
    from bot.reporting.service import Pulses
    from bot.storage.teams_references import TeamsReferenceStore
    from scheduler.service import Outreach

#: People of an organisation a platform can write to directly, beyond the member directory (Teams references).
MemberSource = Callable[[UUID], Awaitable[list[Member]]]


@dataclass
class PlatformRegistry:
    """What one chat platform offers every feature: a renderer per post type, its gateway, its member source.

    The renderers are registered when the services are built (`bot/adapters/<platform>/posts.py`); the gateway
    exists while the adapter's HTTP client runs. Action routers (bolt's listeners for Slack, `SubmitRoutes` for
    Teams) are `Services.slack` and `Services.teams_submits`.
    """

    platform: Platform
    renderers: RendererRegistry
    gateway: Gateway | None = None
    members: MemberSource | None = None


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


@dataclass
class Services:
    """Everything a feature needs, made once at start and passed in: nothing is created inside a handler.

    Built the same way for `vipbot serve` and every CLI command (`build_services`). What one feature makes for
    others is a typed field below, never a string-keyed entry.
    """

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    content: ContentLibrary
    metrics: Metrics = field(default_factory=Metrics.create)
    password_policy: PasswordPolicy = DEFAULT_PASSWORD_POLICY
    platforms: dict[Platform, PlatformRegistry] = field(default_factory=dict)
    teams_references: TeamsReferenceStore | None = None
    # Made by the features as they are installed (None in a process without them).
    outreach: Outreach | None = None
    pulses: Pulses | None = None
    session_calendar: SessionCalendar | None = None
    slack: SlackFeature | None = None
    slack_sends: Counter | None = None
    teams_submits: SubmitRoutes | None = None
    # The audit log of console actions (made here; a test may replace it).
    audit: AuditLog = field(init=False)

    def __post_init__(self) -> None:
        from bot.storage.audit import SqlAuditStore

        self.audit = AuditLog(SqlAuditStore(self.engine), self.clock, self.settings.audit_retention_days)
        if not self.platforms:
            self.platforms = platform_registries(self.content.translator)
        key = self.settings.secret_key
        if self.teams_references is None and self.settings.teams_enabled and key is not None:
            from bot.storage.teams_references import TeamsReferenceStore, master_key_from

            self.teams_references = TeamsReferenceStore(
                self.sessions, master_key_from(key.get_secret_value())
            )
        teams = self.platforms[Platform.TEAMS]
        if teams.members is None and self.teams_references is not None:
            teams.members = teams_members(self.teams_references)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return session_factory(self.engine)

    @property
    def organisations(self) -> SqlOrganisationRepository:
        return SqlOrganisationRepository(self.sessions)

    def member_sources(self) -> list[MemberSource]:
        return [p.members for p in self.platforms.values() if p.members is not None]


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
    services.session_calendar = outreach.sessions
    if settings.secret_key is not None:
        from bot.reporting.service import build_pulses

        services.pulses = build_pulses(services)
        outreach.posts.register(What.PULSE, services.pulses)
    return services


def teams_members(store: TeamsReferenceStore) -> MemberSource:
    """People the Teams adapter can write to directly: its personal and team-member conversation references."""

    async def members(organisation_id: UUID) -> list[Member]:
        from bot.storage.teams_references import TeamsScope

        found: list[Member] = []
        for scope in (TeamsScope.PERSONAL, TeamsScope.MEMBER):
            for stored in await store.list_references(organisation_id, scope):
                target = Target(Platform.TEAMS, stored.reference.tenant_id, TargetKind.PERSON, stored.address)
                found.append(Member(target, stored.reference.locale))
        return found

    return members


SERVICES = web.AppKey("services", Services)

# A feature mounts its routes and start/stop hooks on the application.
FeatureInstaller = Callable[[web.Application, Services], None]


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


def build_app(services: Services, features: list[FeatureInstaller] | None = None) -> web.Application:
    app = web.Application(middlewares=[observe(services.metrics)], client_max_size=1024**2)
    app[SERVICES] = services
    app.router.add_get("/healthz", health_handler(services.engine))
    for install in feature_installers() if features is None else features:
        install(app, services)

    async def dispose_engine(_app: web.Application) -> None:
        await services.engine.dispose()

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

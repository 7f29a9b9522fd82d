"""The typed things features share: `Services`, the per-platform registry and the application key.

The composition root (`bot/app.py`) builds them; features, adapters and the scheduler import them from here, so
nothing below the root imports the root. What one feature makes for others is a typed field of `Services`,
never a string-keyed entry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import ContentLibrary
from bot.domain.audit import AuditTrail
from bot.domain.channels import ChannelDirectory
from bot.domain.clock import Clock
from bot.domain.delivery import Gateway, RendererRegistry
from bot.domain.home import HomeSource, SessionCalendar
from bot.domain.outreach import Member, PostFactory, What
from bot.domain.pulses import PulseService
from bot.domain.team_sessions import TeamSessionStore
from bot.domain.tenancy import Platform
from bot.metrics import Metrics
from bot.security.passwords import DEFAULT_PASSWORD_POLICY, PasswordPolicy
from bot.settings import Settings
from bot.storage.db import session_factory
from bot.storage.organisations import SqlOrganisationRepository

if TYPE_CHECKING:
    from prometheus_client import Counter

    from bot.domain.slack_workspaces import SlackStores
    from bot.domain.teams_references import TeamsReferences

#: People of an organisation a platform can write to directly, beyond the member directory (Teams references).
MemberSource = Callable[[UUID], Awaitable[list[Member]]]


# --- what features see of each other (each made by its own feature, typed here by what others use of it) ------


class PostRegistry(Protocol):
    """The post factories of the outreach pipeline, where another feature adds the factory of its own posts."""

    def register(self, what: What, factory: PostFactory) -> None: ...

    def registered(self, what: What) -> PostFactory | None: ...


class OutreachFeature(Protocol):
    """`scheduler.service.Outreach` as other features use it (the outreach feature's own code has the class)."""

    @property
    def posts(self) -> PostRegistry: ...


class PulsesFeature(PostFactory, Protocol):
    """`bot.reporting.service.Pulses`: the post factory of `What.PULSE` and the pulse service."""

    @property
    def service(self) -> PulseService: ...


class SlackRuntime(Protocol):
    """`bot.adapters.slack.service.SlackFeature` as the root uses it: its gateway (the rest is the adapter's)."""

    @property
    def gateway(self) -> Gateway: ...


class TeamsRuntimeHooks(Protocol):
    """`bot.adapters.teams.TeamsRuntime`: the endpoint and start hook the adapter's `install` mounts."""

    async def messages(self, request: web.Request) -> web.StreamResponse: ...

    async def start(self, _app: web.Application) -> None: ...

    async def drain(self, _app: web.Application) -> None: ...

    async def stop(self, _app: web.Application) -> None: ...


class CardActions(Protocol):
    """`bot.adapters.teams.submits.SubmitRoutes`: the Teams card-submit routes (features register theirs)."""

    def find(self, value: object) -> object | None: ...


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
    channels: ChannelDirectory | None = None  # the platform's own channel lists, for the console's picker


@dataclass
class Services:
    """Everything a feature needs, made once at start and passed in: nothing is created inside a handler.

    Built by the composition root (`bot.app.build_services`) the same way for `vipbot serve` and every CLI
    command; `bot.app.Services` fills in what the root owns (the platform registries, the stores the adapters
    are handed). What one feature makes for others is a typed field below, never a string-keyed entry.
    """

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    content: ContentLibrary
    metrics: Metrics = field(default_factory=Metrics.create)
    password_policy: PasswordPolicy = DEFAULT_PASSWORD_POLICY
    platforms: dict[Platform, PlatformRegistry] = field(default_factory=dict)
    # Stores the adapters are handed by the root (they never build storage objects themselves).
    teams_references: TeamsReferences | None = None
    slack_stores: SlackStores | None = None
    home: HomeSource | None = None
    # Team sessions and their sign-ups (the buttons under a session).
    team_sessions: TeamSessionStore | None = None
    # Made by the features and platforms (None in a process without them).
    outreach: OutreachFeature | None = None
    pulses: PulsesFeature | None = None
    session_calendar: SessionCalendar | None = None
    slack: SlackRuntime | None = None  # the Slack app (bolt) and its gateway, built by the root
    slack_sends: Counter | None = None
    teams: TeamsRuntimeHooks | None = None
    teams_submits: CardActions | None = None
    # The audit log of console actions (made by the root; a test may replace it).
    audit: AuditTrail = field(init=False)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return session_factory(self.engine)

    @property
    def organisations(self) -> SqlOrganisationRepository:
        return SqlOrganisationRepository(self.sessions)

    def member_sources(self) -> list[MemberSource]:
        return [p.members for p in self.platforms.values() if p.members is not None]


SERVICES = web.AppKey("services", Services)

# A feature mounts its routes and start/stop hooks on the application.
FeatureInstaller = Callable[[web.Application, Services], None]

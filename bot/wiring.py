"""The typed things features share: `Services`, the per-platform registry and the application key.

The composition root (`bot/app.py`) builds them; features, adapters and the scheduler import them from here, so
nothing below the root imports the root. What one feature makes for others is a typed field of `Services`,
never a string-keyed entry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import UUID

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import ContentLibrary
from bot.domain.clock import Clock
from bot.domain.delivery import Gateway, RendererRegistry
from bot.domain.home import HomeSource, SessionCalendar
from bot.domain.outreach import Member
from bot.domain.team_sessions import TeamSessionStore
from bot.domain.tenancy import Platform
from bot.metrics import Metrics
from bot.security.passwords import DEFAULT_PASSWORD_POLICY, PasswordPolicy
from bot.settings import Settings
from bot.storage.db import session_factory
from bot.storage.organisations import SqlOrganisationRepository

if TYPE_CHECKING:
    from prometheus_client import Counter

    from bot.adapters.slack.service import SlackFeature
    from bot.adapters.teams import TeamsRuntime
    from bot.adapters.teams.submits import SubmitRoutes
    from bot.domain.slack_workspaces import SlackStores
    from bot.domain.teams_references import TeamsReferences
    from bot.reporting.service import Pulses
    from bot.usecases.audit import AuditLog
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
    outreach: Outreach | None = None
    pulses: Pulses | None = None
    session_calendar: SessionCalendar | None = None
    slack: SlackFeature | None = None  # the Slack app (bolt) and its gateway, built by the root
    slack_sends: Counter | None = None
    teams: TeamsRuntime | None = None
    teams_submits: SubmitRoutes | None = None
    # The audit log of console actions (made by the root; a test may replace it).
    audit: AuditLog = field(init=False)

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

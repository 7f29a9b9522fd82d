"""The composition root: builds every service once and wires them into one aiohttp application."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import ContentLibrary
from bot.domain.clock import Clock
from bot.settings import Settings
from bot.storage.db import session_factory
from bot.storage.organisations import SqlOrganisationRepository
from bot.web.observability import Metrics, health_handler, metrics_handler, observe


@dataclass
class Services:
    """Everything a feature needs, made once at start and passed in: nothing is created inside a handler."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    content: ContentLibrary
    metrics: Metrics = field(default_factory=Metrics.create)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return session_factory(self.engine)

    @property
    def organisations(self) -> SqlOrganisationRepository:
        return SqlOrganisationRepository(self.sessions)


SERVICES = web.AppKey("services", Services)

# A feature mounts its routes and start/stop hooks on the application.
FeatureInstaller = Callable[[web.Application, Services], None]


def feature_installers() -> list[FeatureInstaller]:
    """Every feature of the service, in mount order. Imported here so that nothing is imported at module load."""
    from bot.adapters import slack, teams
    from bot.reporting import service as pulses
    from bot.web import console, root
    from bot.web.portal import routes as portal
    from scheduler import service as outreach

    return [
        root.install,
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
    app.router.add_get("/metrics", metrics_handler(services.metrics))
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

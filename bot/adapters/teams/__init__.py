"""Microsoft Teams: the bot at `/api/messages` (the Microsoft 365 Agents SDK's aiohttp CloudAdapter), its Adaptive
Cards and its gateway.

Every import of the Agents SDK (`microsoft_agents.*`) lives in this package. `install(app, services)` mounts the
endpoint, sets the Teams gateway on `services.platforms[Platform.TEAMS]` while it runs and the card submit routes on
`services.teams_submits`. The Teams renderers are registered in `posts.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

import aiohttp
from aiohttp import web

from bot.adapters.teams.cards import CardKit
from bot.adapters.teams.gateway import BotCredentials, TeamsGateway, TokenSource
from bot.adapters.teams.submits import SubmitRoutes
from bot.cache import TtlCache
from bot.domain.home import HomeInfo
from bot.domain.teams_references import TeamsReferences
from bot.domain.tenancy import Organisation, Platform
from bot.logs import get_logger
from bot.settings import Settings
from bot.wiring import Services

if (
    TYPE_CHECKING
):  # the Agents SDK is imported when Teams starts, not by every command that imports this package
    from collections.abc import Awaitable, Callable

    from bot.adapters.teams.bot import VipTeamsBot
    from bot.adapters.teams.clients import ConnectorClients
    from bot.adapters.teams.endpoint import Handler

log = get_logger(__name__)

ENDPOINT = "/api/messages"
# Counsellors, sociale kaart and sessions change rarely; a card shows them at most this stale.
HOME_CACHE_SECONDS = 30.0


PUBLIC_LOGIN_URL = "https://login.microsoftonline.com"


def openid_metadata_url(settings: Settings) -> str:
    """Where the keys that sign Teams' requests are published: Microsoft's, unless a setting says otherwise."""
    from bot.adapters.teams.auth import PUBLIC_OPENID_METADATA_URL

    return settings.teams_openid_metadata_url or PUBLIC_OPENID_METADATA_URL


def reference_store(services: Services) -> TeamsReferences:
    """The store the composition root hands the adapter (it exists whenever Teams is on and a key is set)."""
    if services.teams_references is None:
        raise RuntimeError("the Teams adapter needs settings with a secret key (ensure_secret_key)")
    return services.teams_references


def credentials_of(settings: Settings) -> BotCredentials | None:
    if not settings.microsoft_app_id or settings.microsoft_app_password is None:
        return None
    single = settings.microsoft_app_type.lower() == "singletenant"
    return BotCredentials(
        app_id=settings.microsoft_app_id,
        password=settings.microsoft_app_password.get_secret_value(),
        tenant_id=settings.microsoft_app_tenant_id if single else None,
        login_url=settings.teams_login_url,
    )


def home_loader(services: Services) -> Callable[[Organisation], Awaitable[HomeInfo]]:
    """The organisation's front-door information (counsellors, sociale kaart, sessions), read at most every
    HOME_CACHE_SECONDS per process."""
    # On the service's clock: a test that moves its clock sees the change, and nothing expires under it meanwhile.
    homes: TtlCache[UUID, HomeInfo] = TtlCache(
        HOME_CACHE_SECONDS, clock=lambda: services.clock.now().timestamp()
    )

    async def home(organisation: Organisation) -> HomeInfo:
        async def load() -> HomeInfo:
            if services.home is None:
                raise RuntimeError("the composition root sets services.home")
            return await services.home.for_organisation(organisation)

        return await homes.get(organisation.id, load)

    return home


class TeamsRuntime:
    """What the endpoint and the gateway need a running loop for: one HTTP session, the SDK's adapter with its
    connector clients, the bot. Built at start-up, closed at shutdown; the route is mounted before that."""

    def __init__(
        self, services: Services, store: TeamsReferences, kit: CardKit, submits: SubmitRoutes
    ) -> None:
        self._services = services
        self._store = store
        self._kit = kit
        self._submits = submits
        self._handler: Handler | None = None
        self._http: aiohttp.ClientSession | None = None
        self._clients: ConnectorClients | None = None
        self._bot: VipTeamsBot | None = None

    async def messages(self, request: web.Request) -> web.StreamResponse:
        if self._handler is None:
            raise web.HTTPServiceUnavailable()
        return await self._handler(request)

    async def start(self, _app: web.Application) -> None:
        from bot.adapters.teams.auth import ChannelTokenValidator, SigningKeys
        from bot.adapters.teams.bot import VipTeamsBot
        from bot.adapters.teams.clients import ConnectorClients
        from bot.adapters.teams.endpoint import build_adapter, build_endpoint

        settings = self._services.settings
        self._http = http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        credentials = credentials_of(settings)
        tokens = TokenSource(credentials, http) if credentials else None
        self._clients = clients = ConnectorClients(tokens)
        self._bot = bot = VipTeamsBot(
            self._store,
            self._kit,
            home_loader(self._services),
            settings.public_portal_url,
            self._submits,
            clients,
        )
        validator = None
        if settings.microsoft_app_id:
            # Read on the first request that carries a token, then every few hours (never at import or start-up).
            keys = SigningKeys(openid_metadata_url(settings), http)
            validator = ChannelTokenValidator(settings.microsoft_app_id, keys)
        adapter = build_adapter(clients, self._services.content.translator)
        self._handler = build_endpoint(adapter, bot, validator)
        self._services.platforms[Platform.TEAMS].gateway = TeamsGateway(self._store, http, tokens)

    async def drain(self, _app: web.Application) -> None:
        if self._bot is not None:
            await self._bot.drain()

    async def stop(self, _app: web.Application) -> None:
        self._handler = None
        self._services.platforms[Platform.TEAMS].gateway = None
        if self._clients is not None:
            await self._clients.close()
            self._clients = None
        if self._http is not None:
            await self._http.close()
            self._http = None


def build_runtime(services: Services) -> TeamsRuntime | None:
    """The Teams runtime and its card-submit routes when Teams is enabled (called by the composition root)."""
    settings = services.settings
    if not settings.teams_enabled:
        return None
    if services.teams_references is None:  # `vipbot serve` always has a key (generated when not set)
        log.warning("teams is off: its conversation references need a secret key (VIPBOT_SECRET_KEY)")
        return None
    store = reference_store(services)
    kit = CardKit(services.content.translator)
    submits = SubmitRoutes()
    services.teams_submits = submits
    if services.team_sessions is not None:
        from bot.adapters.teams.sessions import register_session_submits

        register_session_submits(
            submits, services.team_sessions, services.content.translator, settings.public_base_url
        )
    return TeamsRuntime(services, store, kit, submits)


def install(app: web.Application, services: Services) -> None:
    """Mount `/api/messages` and the runtime's start/stop hooks (the runtime is built by the composition root);
    the runtime sets the Teams gateway while it runs."""
    runtime = services.teams
    if runtime is None:
        log.info("teams is off (VIPBOT_TEAMS=false, or production without MICROSOFT_APP_ID)")
        return
    if not services.settings.microsoft_app_id:
        log.warning(
            "TEAMS ENDPOINT IS UNAUTHENTICATED: MICROSOFT_APP_ID is not set, so /api/messages accepts any local "
            "traffic (for Microsoft's local test tools). Never expose it; production refuses this.",
            endpoint=ENDPOINT,
        )
    app.router.add_post(ENDPOINT, runtime.messages)
    app.on_startup.append(runtime.start)
    app.on_shutdown.append(runtime.drain)
    app.on_cleanup.append(runtime.stop)

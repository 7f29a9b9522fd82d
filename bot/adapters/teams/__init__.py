"""Microsoft Teams: the bot at `/api/messages` (botbuilder's CloudAdapter), its Adaptive Cards and its gateway.

Every botbuilder/botframework import of the project lives in this package, so that moving to the Microsoft 365
Agents SDK is one folder. `install(app, services)` mounts the endpoint, sets the Teams gateway on
`services.platforms[Platform.TEAMS]` while it runs and the card submit routes on `services.teams_submits`. The
Teams renderers are registered in `posts.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aiohttp
from aiohttp import web

from bot.adapters.teams.cards import CardKit
from bot.adapters.teams.gateway import BotCredentials, TeamsGateway
from bot.adapters.teams.submits import SubmitRoutes
from bot.app import Services, teams_members
from bot.cache import TtlCache
from bot.domain.home import HomeInfo, NoSessions, SessionCalendar
from bot.domain.tenancy import Organisation, Platform
from bot.logs import get_logger
from bot.settings import Settings
from bot.storage.home import HomeInfoSource
from bot.storage.teams_references import TeamsReferenceStore, master_key_from

log = get_logger(__name__)

ENDPOINT = "/api/messages"
# Counsellors, sociale kaart and sessions change rarely; a card shows them at most this stale.
HOME_CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class _BotFrameworkConfig:
    """The attribute bag botbuilder's ConfigurationBotFrameworkAuthentication reads (public cloud defaults)."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str | None


@dataclass(frozen=True)
class _RedirectedBotFrameworkConfig(_BotFrameworkConfig):
    """The same with the Microsoft endpoints set explicitly, for VIPBOT_TEAMS_OPENID_METADATA_URL (or a login URL
    of its own): botbuilder then takes its "parameterized" path, which needs every value, not just the changed one.
    """

    TO_CHANNEL_FROM_BOT_LOGIN_URL: str
    TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: str
    TO_CHANNEL_FROM_BOT_OAUTH_SCOPE: str = "https://api.botframework.com"
    TO_BOT_FROM_CHANNEL_TOKEN_ISSUER: str = "https://api.botframework.com"  # noqa: S105  (an issuer URL)
    OAUTH_URL: str = "https://api.botframework.com"
    TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL: str = (
        "https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration"
    )
    CALLER_ID: str = "urn:botframework:azure"


PUBLIC_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
PUBLIC_LOGIN_URL = "https://login.microsoftonline.com"


def bot_framework_config(settings: Settings) -> _BotFrameworkConfig:
    if not settings.microsoft_app_id:
        return _BotFrameworkConfig(APP_ID="", APP_PASSWORD="", APP_TYPE="MultiTenant", APP_TENANTID=None)
    password = settings.microsoft_app_password.get_secret_value() if settings.microsoft_app_password else ""
    base = _BotFrameworkConfig(
        APP_ID=settings.microsoft_app_id,
        APP_PASSWORD=password,
        APP_TYPE=settings.microsoft_app_type,
        APP_TENANTID=settings.microsoft_app_tenant_id,
    )
    login = settings.teams_login_url.rstrip("/")
    if settings.teams_openid_metadata_url is None and login == PUBLIC_LOGIN_URL:
        return base
    single = settings.microsoft_app_type.lower() == "singletenant" and settings.microsoft_app_tenant_id
    authority = settings.microsoft_app_tenant_id if single else "botframework.com"
    return _RedirectedBotFrameworkConfig(
        APP_ID=base.APP_ID,
        APP_PASSWORD=base.APP_PASSWORD,
        APP_TYPE=base.APP_TYPE,
        APP_TENANTID=base.APP_TENANTID,
        TO_CHANNEL_FROM_BOT_LOGIN_URL=f"{login}/{authority}",
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=settings.teams_openid_metadata_url
        or PUBLIC_OPENID_METADATA_URL,
    )


def reference_store(services: Services) -> TeamsReferenceStore:
    key = services.settings.secret_key
    if key is None:
        raise RuntimeError("the Teams adapter needs settings with a secret key (ensure_secret_key)")
    return TeamsReferenceStore(services.sessions, master_key_from(key.get_secret_value()))


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


def install(app: web.Application, services: Services) -> None:
    """Mount `/api/messages` and register the Teams renderer and gateway (when Teams is enabled)."""
    settings = services.settings
    if not settings.teams_enabled:
        log.info("teams is off (VIPBOT_TEAMS=false, or production without MICROSOFT_APP_ID)")
        return
    from bot.adapters.teams.endpoint import build_endpoint

    store = services.teams_references or reference_store(services)
    services.teams_references = store
    registry = services.platforms[Platform.TEAMS]
    if registry.members is None:
        registry.members = teams_members(store)
    kit = CardKit(services.content.translator)
    submits = SubmitRoutes()
    services.teams_submits = submits

    homes: TtlCache[UUID, HomeInfo] = TtlCache(HOME_CACHE_SECONDS)

    async def home(organisation: Organisation) -> HomeInfo:
        """The organisation's front-door information, read at most every HOME_CACHE_SECONDS per process."""

        async def load() -> HomeInfo:
            calendar: SessionCalendar = services.session_calendar or NoSessions()
            source = HomeInfoSource(
                services.sessions,
                services.content.catalog,
                calendar,
                services.clock,
                settings.public_portal_url,
            )
            return await source.for_organisation(organisation)

        return await homes.get(organisation.id, load)

    config = bot_framework_config(settings)
    if not settings.microsoft_app_id:
        log.warning(
            "TEAMS ENDPOINT IS UNAUTHENTICATED: MICROSOFT_APP_ID is not set, so /api/messages accepts any local "
            "traffic (for Microsoft's local test tools). Never expose it; production refuses this.",
            endpoint=ENDPOINT,
        )
    if settings.microsoft_app_id:
        from bot.adapters.teams.endpoint import openid_metadata_refresher

        metadata_url = settings.teams_openid_metadata_url or PUBLIC_OPENID_METADATA_URL
        app.cleanup_ctx.append(openid_metadata_refresher(metadata_url))
    handler, drain = build_endpoint(
        config, store, kit, home, settings.public_portal_url, services.content.translator, submits
    )
    app.router.add_post(ENDPOINT, handler)
    app.on_shutdown.append(drain)

    state: dict[str, Any] = {}

    async def start_gateway(_app: web.Application) -> None:
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        state["http"] = http
        registry.gateway = TeamsGateway(store, http, credentials_of(settings))

    async def stop_gateway(_app: web.Application) -> None:
        http = state.pop("http", None)
        registry.gateway = None
        if http is not None:
            await http.close()

    app.on_startup.append(start_gateway)
    app.on_cleanup.append(stop_gateway)

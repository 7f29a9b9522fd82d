"""The Slack feature: slack-bolt's AsyncApp inside our aiohttp application.

Routes: POST /slack/events (events, interactions, the /vp command — one Request URL for all three), and in
OAuth mode GET /slack/install and GET /slack/oauth_redirect. With SLACK_APP_TOKEN the same AsyncApp also runs
over Socket Mode for installs behind a firewall.

Listeners translate; they decide nothing and keep nothing a person typed: the DM listener never reads the
message text, the /vp listener only compares it to three keywords.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus
from uuid import UUID

import aiohttp
from aiohttp import web
from prometheus_client import Counter
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import blocks
from bot.adapters.slack.gateway import (
    API_TIMEOUT,
    BUDGETED_METHODS,
    SlackClients,
    SlackGateway,
    TokenSource,
    make_client,
)
from bot.adapters.slack.listeners import ListenerTasks, follow_listeners
from bot.adapters.slack.manifest import BOT_SCOPES
from bot.adapters.slack.members import SlackMemberSync
from bot.adapters.slack.oauth import (
    InstallationTokens,
    OrganisationOAuthFlow,
    OrganisationStateStore,
    SqlInstallationStore,
    StaticToken,
)
from bot.domain.content import pick_locale
from bot.domain.delivery import portal_link
from bot.domain.secret import Secret
from bot.domain.slack_workspaces import SlackInstallations, SlackStores
from bot.domain.tenancy import Organisation
from bot.errors import ConfigError, NotFoundError
from bot.logs import get_logger
from bot.settings import Settings
from bot.wiring import Services

log = get_logger(__name__)

EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
LOCALE_LOOKUP_TIMEOUT = 1.0  # seconds; /vp must answer well within Slack's 3 s
LOCALE_CACHE_SECONDS = 900.0
LOCALE_CACHE_SIZE = 10_000
ORGANISATION_CACHE_SECONDS = 60.0
PERSON_MESSAGE_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
LEGACY_CALENDAR_ACTION = "vip_session_ics"  # the calendar link's old action id, still in posted messages
DM_REPLY_INTERVAL = 60.0  # seconds: one door reply per person per minute, however much they type

HELP_WORDS = frozenset({"", "help", "hulp", "?", "uitleg"})
MAP_WORDS = frozenset({"kaart", "map", "sociale kaart", "sociale-kaart", "social map"})
DOOR_WORDS = frozenset({"gesprek", "spar", "sparren", "talk", "praten", "contact"})


def master_key_of(settings: Settings) -> Secret[bytes]:
    """The master key Slack tokens are sealed under (VIPBOT_SECRET_KEY, or the generated one)."""
    key = settings.secret_key
    if key is None:
        raise ConfigError("VIPBOT_SECRET_KEY", "is needed to keep Slack tokens sealed")
    return Secret(key.get_secret_value().encode("utf-8"))


@dataclass
class SlackFeature:
    """Everything the Slack adapter made, kept on `services.slack` for tests and other features."""

    bolt: AsyncApp
    gateway: SlackGateway
    installations: SlackInstallations
    oauth: bool
    clients: SlackClients
    members: SlackMemberSync | None = None
    socket_mode_handler: Any | None = None
    socket_mode_task: asyncio.Task[None] | None = None
    listeners: ListenerTasks = field(default_factory=ListenerTasks)

    def use_session(self, session: aiohttp.ClientSession | None) -> None:
        """One HTTP session for every Web API call of this process: bolt's listeners, OAuth and the gateway."""
        self.bolt.client.session = session
        self.clients.use_session(session)


class _LocaleCache:
    """A short-lived, in-memory cache of users' Slack locales (never stored), so /vp needs no lookup each time."""

    def __init__(self, clock_seconds: Callable[[], float]) -> None:
        self._now = clock_seconds
        self._items: dict[tuple[str, str], tuple[float, str]] = {}

    def get(self, team: str, user: str) -> str | None:
        item = self._items.get((team, user))
        if item is None or self._now() - item[0] > LOCALE_CACHE_SECONDS:
            return None
        return item[1]

    def put(self, team: str, user: str, locale: str) -> None:
        if len(self._items) >= LOCALE_CACHE_SIZE:
            self._items.clear()
        self._items[(team, user)] = (self._now(), locale)


class _Handlers:
    def __init__(self, services: Services, stores: SlackStores) -> None:
        self._services = services
        self._t = services.content.translator
        self._installations = stores.installations
        self._bindings = stores.channels
        self._locales = _LocaleCache(time.monotonic)
        self._organisations: dict[str, tuple[float, Organisation]] = {}
        self._replies: dict[tuple[str, str, str], tuple[list[dict[str, object]], str]] = {}
        self._dm_replies: dict[tuple[str, str], float] = {}

    async def organisation(self, context: AsyncBoltContext) -> Organisation | None:
        """The organisation of the workspace the request came from; found ones are remembered for a minute."""
        workspace = context.team_id or context.enterprise_id
        if not workspace:
            return None
        now = time.monotonic()
        cached = self._organisations.get(workspace)
        if cached is not None and now - cached[0] < ORGANISATION_CACHE_SECONDS:
            return cached[1]
        organisation_id = await self._installations.organisation_for(workspace)
        if organisation_id is None and context.enterprise_id and context.enterprise_id != workspace:
            organisation_id = await self._installations.organisation_for(context.enterprise_id)
        if organisation_id is None:
            return None  # not remembered: a workspace linked a moment from now works at once
        try:
            organisation = await self._services.organisations.get_organisation(str(organisation_id))
        except NotFoundError:
            return None
        if len(self._organisations) >= LOCALE_CACHE_SIZE:
            self._organisations.clear()
        self._organisations[workspace] = (now, organisation)
        return organisation

    def reply(self, kind: str, locale: str, portal: str) -> tuple[list[dict[str, object]], str]:
        """The /vp answers depend only on their kind, the language and the portal: built once each (but the
        sociale kaart, which is the organisation's own and read per command in `_command`)."""
        key = (kind, locale, portal)
        found = self._replies.get(key)
        if found is None:
            if kind == "map":  # without the organisation's own entries: only where no home source is wired
                found = blocks.social_map_reply(
                    self._t, locale, self._services.content.catalog.social_map, portal
                )
            elif kind == "door":
                found = blocks.door_reply(self._t, locale, portal)
            else:
                found = blocks.help_reply(self._t, locale, portal, unknown=kind == "unknown")
            if len(self._replies) >= LOCALE_CACHE_SIZE:
                self._replies.clear()
            self._replies[key] = found
        return found

    def portal(self, organisation: Organisation) -> str:
        return portal_link(self._services.settings.public_portal_url, organisation.slug)

    async def locale(
        self, client: AsyncWebClient, context: AsyncBoltContext, user: str, fallback: str
    ) -> str:
        team = context.team_id or context.enterprise_id or ""
        cached = self._locales.get(team, user)
        if cached is not None:
            return cached
        try:
            answer = await asyncio.wait_for(
                client.users_info(user=user, include_locale=True), timeout=LOCALE_LOOKUP_TIMEOUT
            )
            locale = pick_locale(str(answer["user"].get("locale") or fallback))
        except TimeoutError:
            return pick_locale(fallback)  # Slack is slow right now: ask again next time
        except (SlackApiError, KeyError):
            locale = pick_locale(fallback)
        self._locales.put(team, user, locale)
        return locale

    # -- listeners -------------------------------------------------------------------------------------------

    async def home_opened(
        self, event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        if event.get("tab") != "home":
            return
        user = str(event.get("user", ""))
        organisation = await self.organisation(context)
        if organisation is None:
            locale = await self.locale(client, context, user, "nl")
            await client.views_publish(user_id=user, view=blocks.not_linked_view(self._t, locale))
            return
        locale = await self.locale(client, context, user, organisation.locale)
        home = self._services.home
        if home is None:  # the composition root always sets it; this narrows the type
            return
        info = await home.for_organisation(organisation)
        await client.views_publish(user_id=user, view=blocks.home_view(self._t, locale, info))

    async def command(
        self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        try:
            await self._command(ack, command, client, context)
        except Exception as exc:  # the one catch-all of /vp: the person gets a plain apology, never the error
            log.error("slack /vp failed", error=type(exc).__name__)
            await ack(text=self._t.t("nl", "common.error_generic"), response_type="ephemeral")

    async def _command(
        self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        # What follows /vp is compared to a few keywords and dropped: it is never stored, logged or echoed.
        word = " ".join(str(command.get("text", "")).lower().split())
        organisation = await self.organisation(context)
        user = str(command.get("user_id", ""))
        if organisation is None:
            locale = await self.locale(client, context, user, "nl")
            await ack(text=self._t.t(locale, "slack.home.not_linked"))
            return
        locale = await self.locale(client, context, user, organisation.locale)
        if word in MAP_WORDS:
            kind = "map"
        elif word in DOOR_WORDS:
            kind = "door"
        else:
            kind = "help" if word in HELP_WORDS else "unknown"
        home = self._services.home
        if (
            kind == "map" and home is not None
        ):  # the organisation's own sociale kaart, merged over the template
            info = await home.for_organisation(organisation)
            payload, text = blocks.social_map_reply(
                self._t, locale, info.social_map, self.portal(organisation)
            )
        else:
            payload, text = self.reply(kind, locale, self.portal(organisation))
        await ack(blocks=payload, text=text, response_type="ephemeral")

    async def direct_message(
        self, event: dict[str, Any], say: AsyncSay, client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        # The text of the message is never read: the answer is the same whatever was typed.
        if event.get("channel_type") != "im" or event.get("bot_id"):
            return
        if event.get("subtype") not in PERSON_MESSAGE_SUBTYPES:
            return  # edits, deletions, joins: not someone writing to the bot
        user = str(event.get("user", ""))
        if not self._first_in_a_while(context.team_id or "", user):
            return  # several messages in a row (or Slack redelivering one) get one explanation, not a stream
        organisation = await self.organisation(context)
        if organisation is None:
            locale = await self.locale(client, context, user, "nl")
            await say(text=self._t.t(locale, "slack.home.not_linked"))
            return
        locale = await self.locale(client, context, user, organisation.locale)
        payload, text = blocks.dm_reply(self._t, locale, self.portal(organisation))
        await say(blocks=payload, text=text)

    def _first_in_a_while(self, team: str, user: str) -> bool:
        """Whether this person has not had the DM reply in the last minute (kept in memory only)."""
        now = time.monotonic()
        last = self._dm_replies.get((team, user))
        if last is not None and now - last < DM_REPLY_INTERVAL:
            return False
        if len(self._dm_replies) >= LOCALE_CACHE_SIZE:
            self._dm_replies = {k: v for k, v in self._dm_replies.items() if now - v < DM_REPLY_INTERVAL}
        self._dm_replies[(team, user)] = now
        return True

    async def membership(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        if event.get("user") != context.bot_user_id:
            return  # other people's comings and goings are none of our business
        usable = event.get("type") == "member_joined_channel"
        await self._channel(context, str(event.get("channel", "")), usable=usable)

    async def renamed(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        channel = event.get("channel") or {}
        organisation = await self.organisation(context)
        workspace = context.team_id or ""
        if organisation is not None and channel.get("id") and channel.get("name"):
            await self._bindings.renamed(organisation.id, workspace, str(channel["id"]), str(channel["name"]))

    async def archived(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        await self._channel(context, str(event.get("channel", "")), usable=False)

    async def unarchived(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        await self._channel(context, str(event.get("channel", "")), usable=True)

    async def _channel(self, context: AsyncBoltContext, channel: str, *, usable: bool) -> None:
        organisation = await self.organisation(context)
        if organisation is not None and channel:
            await self._bindings.set_usable(organisation.id, context.team_id or "", channel, usable)

    async def uninstalled(self, context: AsyncBoltContext) -> None:
        for key in (context.team_id, context.enterprise_id):
            if key and await self._installations.delete(key):
                log.info("slack installation removed", workspace=key)

    async def only_ack(self, ack: AsyncAck) -> None:
        await ack()

    async def failed(self, error: Exception) -> None:
        """bolt's catch-all for listeners: log what failed, never the exception text (it may quote a payload)."""
        log.error("slack listener failed", error=type(error).__name__)


class _OwnTokenNotice(logging.Filter):
    """bolt reads SLACK_BOT_TOKEN from the environment itself and then warns that our client (which carries
    that very token) takes precedence: true, expected, and noise for operators."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("As you gave `client` as well")


def build_feature(services: Services) -> SlackFeature | None:
    """The Slack feature for these settings, or None when Slack is not configured."""
    settings = services.settings
    signing = settings.slack_signing_secret
    oauth = bool(settings.slack_client_id and settings.slack_client_secret)
    if signing is None or not (oauth or settings.slack_bot_token):
        return None
    stores = services.slack_stores
    if stores is None:
        raise ConfigError("VIPBOT_SECRET_KEY", "is needed to keep Slack tokens sealed")
    installations = stores.installations
    # bolt copies the root logger's level into each of its loggers, which would undo bot/logs.py's pin at WARNING
    # (bolt and slack-sdk log payloads at DEBUG): give it a base logger that stays at WARNING or above.
    quiet = logging.getLogger("slack_bolt.vipbot")
    quiet.setLevel(max(logging.WARNING, logging.getLogger().getEffectiveLevel()))
    if not any(isinstance(f, _OwnTokenNotice) for f in quiet.filters):
        quiet.addFilter(_OwnTokenNotice())
    client = make_client(settings.slack_api_url)
    tokens: TokenSource
    if oauth:
        store = SqlInstallationStore(installations, services.clock)
        state_store = OrganisationStateStore(stores.oauth_states, services.clock)
        base = settings.public_base_url
        oauth_settings = AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.get_secret_value()
            if settings.slack_client_secret
            else None,
            scopes=list(BOT_SCOPES),
            user_scopes=[],
            redirect_uri=f"{base}{REDIRECT_PATH}",
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            install_page_rendering_enabled=False,
            installation_store=store,
            installation_store_bot_only=True,
            state_store=state_store,
            authorization_url=_authorize_url(settings.slack_api_url),
        )
        flow = OrganisationOAuthFlow(
            logger=quiet,
            organisations=services.organisations,
            installation_store=store,
            state_store=state_store,
            translator=services.content.translator,
            client=client,
            settings=oauth_settings,
        )
        bolt = AsyncApp(
            logger=quiet,
            signing_secret=signing.get_secret_value(),
            client=client,
            installation_store=store,
            installation_store_bot_only=True,
            oauth_flow=flow,
        )
        tokens = InstallationTokens(installations, stores.grid)
    else:
        token = settings.slack_bot_token
        if token is None:  # checked above; this narrows the type
            return None
        client = make_client(settings.slack_api_url, Secret(token.get_secret_value()))
        bolt = AsyncApp(logger=quiet, signing_secret=signing.get_secret_value(), client=client)
        tokens = StaticToken(Secret(token.get_secret_value()))

    listeners = follow_listeners(bolt)
    handlers = _Handlers(services, stores)
    bolt.event("app_home_opened")(handlers.home_opened)
    bolt.command("/vp")(handlers.command)
    bolt.event("message")(handlers.direct_message)
    bolt.event("member_joined_channel")(handlers.membership)
    bolt.event("member_left_channel")(handlers.membership)
    for name in ("channel_rename", "group_rename"):
        bolt.event(name)(handlers.renamed)
    for name in (
        "channel_archive",
        "group_archive",
        "channel_deleted",
        "group_deleted",
        "channel_left",
        "group_left",
    ):
        bolt.event(name)(handlers.archived)
    for name in ("channel_unarchive", "group_unarchive"):
        bolt.event(name)(handlers.unarchived)
    for name in ("app_uninstalled", "tokens_revoked"):
        bolt.event(name)(handlers.uninstalled)
    bolt.action(blocks.DOOR_ACTION)(handlers.only_ack)
    bolt.action(re.compile(f"^{blocks.LINK_ACTION_PREFIX}"))(handlers.only_ack)
    bolt.action(LEGACY_CALENDAR_ACTION)(handlers.only_ack)  # session posts sent before it became a vp_link_
    bolt.error(handlers.failed)

    outcomes = services.slack_sends
    if outcomes is None:  # once per registry, even when an app is built twice from the same services
        outcomes = services.slack_sends = Counter(
            "vipbot_slack_sends",
            "Slack sends by Web API method and outcome (sent, recovered after a 5xx, rate_limited, transient, "
            "permanent)",
            ["method", "outcome"],
            registry=services.metrics.registry,
        )
    # On PostgreSQL the outbox paces posts with a budget shared by replicas: their 429s go to it (gateway.py).
    shared = services.engine.dialect.name == "postgresql"
    clients = SlackClients(settings.slack_api_url, tokens, BUDGETED_METHODS if shared else frozenset())
    gateway = SlackGateway(clients, outcomes=outcomes)
    return SlackFeature(
        bolt=bolt,
        gateway=gateway,
        installations=installations,
        oauth=oauth,
        clients=clients,
        listeners=listeners,
    )


def link_clicks_only(body: bytes, content_type: str) -> bool:
    """Whether a request is a block_actions interaction whose every action is one of our link buttons.

    Link buttons (the door, sociale kaart websites, online sessions) open a URL in the person's browser; Slack
    still sends the click, and all it needs back is a 200. These are the most frequent interactions (a column
    goes to a whole organisation), so they are answered right after the signature check instead of going
    through bolt's full listener pipeline. Nothing in them is read or kept.
    """
    if content_type != "application/x-www-form-urlencoded" or not body.startswith(b"payload="):
        return False
    # Action ids are plain ASCII, unchanged by the form encoding: most other requests are ruled out unparsed.
    if blocks.DOOR_ACTION.encode() not in body and blocks.LINK_ACTION_PREFIX.encode() not in body:
        return False
    try:
        payload = json.loads(unquote_plus(body[len(b"payload=") :].decode("utf-8")))
    except (UnicodeDecodeError, ValueError):
        return False
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return False
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        return False
    return all(
        isinstance(a, dict)
        and isinstance(a.get("action_id"), str)
        and (a["action_id"] == blocks.DOOR_ACTION or a["action_id"].startswith(blocks.LINK_ACTION_PREFIX))
        for a in actions
    )


#: Key in bolt's context: when the request reached us (time.monotonic()), for listeners with a deadline to keep.
RECEIVED_AT = "vipbot_received_at"
SIGNATURE_MAX_AGE = 300  # seconds, as Slack and slack-sdk: an older (or a future) timestamp is a replay


def signed_by_slack(signing_key: bytes, body: bytes, headers: Mapping[str, str], now: float) -> bool:
    """Slack's v0 signature over the raw bytes: HMAC-SHA256 of "v0:{timestamp}:{body}", compared in constant time.

    slack-sdk's verifier decodes the body as UTF-8 first and so raises on a body that is not; this one never reads
    the body as anything but bytes, so junk is refused (or, when signed, handed on) without an exception.
    """
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not timestamp.isascii() or not timestamp.isdigit() or abs(now - int(timestamp)) > SIGNATURE_MAX_AGE:
        return False
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(signing_key, base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))


def parse_signed_request(
    body: bytes, query: str, headers: Any, received_at: float | None = None
) -> AsyncBoltRequest | None:
    """bolt's request for a body whose signature checked out, or None when it is not what Slack sends.

    Slack sends UTF-8 JSON, or a form whose `payload` field is a JSON object; anything else (invalid UTF-8,
    `payload=%7B`, a payload that is a number) would raise deep inside bolt and answer 500 with a traceback.
    """
    try:
        text = body.decode("utf-8")
        context = {} if received_at is None else {RECEIVED_AT: received_at}
        request = AsyncBoltRequest(body=text, query=query, headers=headers, context=context)
    except (UnicodeDecodeError, ValueError, AttributeError, TypeError):  # what bolt's parser raises on junk
        return None
    if not isinstance(request.body, dict):
        return None
    return request


def _authorize_url(api_url: str) -> str:
    """Slack's consent page lives next to its Web API: https://slack.com/oauth/v2/authorize."""
    root = api_url.rstrip("/").removesuffix("/api")
    return f"{root}/oauth/v2/authorize"


SLACK = web.AppKey("slack", SlackFeature)


def build_slack(services: Services) -> SlackFeature | None:
    """The Slack feature with every listener of its own (called by the composition root; `install` mounts it)."""
    feature = build_feature(services)
    stores = services.slack_stores
    if feature is None or stores is None:  # build_feature made nothing without the stores
        return None
    from bot.adapters.slack.members import build_member_sync

    feature.members = build_member_sync(services, feature.bolt, feature.clients, stores)
    if services.team_sessions is not None:
        from bot.adapters.slack.sessions import register_session_actions

        async def organisation_of(organisation_id: UUID) -> Organisation:
            return await services.organisations.get_organisation(str(organisation_id))

        register_session_actions(
            feature.bolt,
            services.team_sessions,
            organisation_of,
            services.content.translator,
            services.settings.public_base_url,
        )
    return feature


def install(app: web.Application, services: Services) -> None:
    """Mount the Slack routes and start/stop hooks of the feature the composition root built (if Slack is on)."""
    feature = services.slack
    if feature is None:
        return
    app[SLACK] = feature
    if feature.members is not None:
        from bot.adapters.slack.members import mount_member_sync

        mount_member_sync(app, services, feature.members)
    bolt = feature.bolt

    signing = services.settings.slack_signing_secret
    if signing is None:  # build_feature made nothing without it; this narrows the type
        return
    signing_key = signing.get_secret_value().encode("utf-8")

    async def events(request: web.Request) -> web.Response:
        received_at = time.monotonic()  # Slack's 3 s run from here: listeners that must wait count from it
        body = await request.read()
        # The signature first: nothing of an unsigned body is parsed, whatever it holds.
        if not signed_by_slack(signing_key, body, request.headers, time.time()):
            return web.Response(status=401)
        if link_clicks_only(body, request.content_type):
            return web.Response(
                status=200
            )  # a verified click on a link button: acknowledging is all there is
        bolt_request = parse_signed_request(body, request.query_string, request.headers, received_at)
        if bolt_request is None:
            log.warning("slack request refused: malformed body")  # one line: no payload, no traceback
            return web.Response(status=400)
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    app.router.add_post(EVENTS_PATH, events)
    app.cleanup_ctx.append(_shared_http(feature))
    # Before the Web API session closes and the database is disposed (both on cleanup).
    app.on_shutdown.append(feature.listeners.drain)
    flow = bolt.oauth_flow
    if feature.oauth and flow is not None:

        async def install_page(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

        async def redirect(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

        app.router.add_get(INSTALL_PATH, install_page)
        app.router.add_get(REDIRECT_PATH, redirect)

    app_token = services.settings.slack_app_token
    if app_token is not None:
        app.on_startup.append(_socket_mode_start(feature, app_token.get_secret_value()))
        app.on_cleanup.append(_socket_mode_stop(feature))


def _shared_http(feature: SlackFeature) -> Callable[[web.Application], AsyncIterator[None]]:
    """slack-sdk opens (and closes) a connection for every Web API call unless it is given a session: a burst of
    clicks, each confirmed with an ephemeral message, then pays a TCP (and TLS) handshake per click."""

    async def shared(_app: web.Application) -> AsyncIterator[None]:
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=API_TIMEOUT))
        feature.use_session(http)
        try:
            yield
        finally:
            feature.use_session(None)
            await http.close()

    return shared


class _OneLineLogger(logging.Logger):
    """The Socket Mode client logs every failed connection attempt with its traceback, forever: for an
    unreachable Slack that is one line per attempt here, with the reason, and never a traceback."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        self.error(msg, *args, **kwargs)


def _socket_mode_logger() -> logging.Logger:
    quiet = _OneLineLogger("slack_bolt.socket_mode")
    quiet.parent = logging.getLogger("slack_bolt")  # the same handlers, levels and redaction as every record
    return quiet


def _socket_mode_start(feature: SlackFeature, app_token: str) -> Any:
    async def start(_app: web.Application) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(feature.bolt, app_token, logger=_socket_mode_logger())
        feature.socket_mode_handler = handler
        # Connecting retries until Slack answers. In the background, so that the service starts (and /healthz,
        # the console and the portal answer) while Slack is unreachable.
        feature.socket_mode_task = asyncio.create_task(_socket_mode_connect(handler))

    return start


async def _socket_mode_connect(handler: Any) -> None:
    await handler.connect_async()
    log.info("slack socket mode connected")


def _socket_mode_stop(feature: SlackFeature) -> Any:
    async def stop(_app: web.Application) -> None:
        task = feature.socket_mode_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        handler = feature.socket_mode_handler
        if handler is not None:
            await handler.close_async()

    return stop

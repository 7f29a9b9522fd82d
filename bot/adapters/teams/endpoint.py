"""The `/api/messages` request handler: botbuilder's CloudAdapter with Bot Framework authentication.

With an app id, CloudAdapter validates the Bearer token of every request (a missing or invalid token is a 401
before the bot sees anything); without one it accepts unauthenticated requests, as Microsoft's local tools expect.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from botbuilder.core import MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import JwtTokenExtractor

from bot.adapters.teams.bot import HomeLoader, VipTeamsBot
from bot.adapters.teams.cards import CardKit
from bot.adapters.teams.clients import ReusingClientsAuthentication
from bot.adapters.teams.submits import SubmitRoutes
from bot.domain.content import pick_locale
from bot.domain.i18n import Translator
from bot.logs import get_logger
from bot.storage.teams_references import TeamsReferenceStore

log = get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_endpoint(
    config: Any,
    store: TeamsReferenceStore,
    kit: CardKit,
    home: HomeLoader,
    portal_base_url: str,
    translator: Translator,
    submits: SubmitRoutes | None = None,
) -> tuple[Handler, Callable[[web.Application], Awaitable[None]]]:
    adapter = CloudAdapter(ReusingClientsAuthentication(ConfigurationBotFrameworkAuthentication(config)))
    authenticated = bool(config.APP_ID)
    bot = VipTeamsBot(store, kit, home, portal_base_url, submits)

    async def on_error(turn_context: TurnContext, error: Exception) -> None:
        # The exception's text may quote the activity: only its type is logged.
        log.error("teams turn failed", error_type=type(error).__name__)
        try:
            locale = pick_locale(turn_context.activity.locale)
            await turn_context.send_activity(
                MessageFactory.text(translator.t(locale, "common.error_generic"))
            )
        except Exception as reply_error:  # the error reply is best effort
            log.warning("teams error reply failed", error_type=type(reply_error).__name__)

    adapter.on_turn_error = on_error

    async def messages(request: web.Request) -> web.StreamResponse:
        if "application/json" not in request.headers.get("Content-Type", ""):
            raise web.HTTPUnsupportedMediaType()
        try:
            response = await adapter.process(request, bot)
        except web.HTTPException:
            raise
        except Exception as exc:
            # Turn errors end in on_error; what escapes is a request botbuilder could not authenticate or parse
            # (it raises bare Exceptions, IndexError and JWT decoder errors for bad tokens): refuse, fail closed.
            log.warning("teams request refused", error_type=type(exc).__name__)
            if authenticated:
                raise web.HTTPUnauthorized() from exc
            raise web.HTTPBadRequest() from exc
        return response if response is not None else web.Response(status=201)

    async def drain(_app: web.Application) -> None:
        await bot.drain()

    return messages, drain


# botbuilder fetches the Bot Framework's signing keys with a blocking `requests.get` on the event loop whenever its
# cache is a day old, stalling every request meanwhile. Keeping that cache fresh from a worker thread means the
# loop never does the fetch itself.
METADATA_REFRESH_SECONDS = 6 * 3600


def _refresh_in_this_thread(url: str) -> None:
    # The coroutine is made here, in the worker thread: a refresh cancelled before the thread starts leaves none
    # behind unawaited.
    metadata = JwtTokenExtractor.get_open_id_metadata(url)
    asyncio.run(metadata._refresh())


async def refresh_openid_metadata(url: str) -> None:
    await asyncio.to_thread(_refresh_in_this_thread, url)


def openid_metadata_refresher(url: str) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context: refresh at start (best effort), then every few hours until shutdown."""

    async def refresher(_app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                try:
                    await refresh_openid_metadata(url)
                except Exception as exc:  # network trouble: botbuilder retries on demand
                    log.warning("teams signing keys could not be refreshed", error_type=type(exc).__name__)
                await asyncio.sleep(METADATA_REFRESH_SECONDS)

        with contextlib.suppress(Exception):
            await asyncio.wait_for(refresh_openid_metadata(url), timeout=15)
        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return refresher

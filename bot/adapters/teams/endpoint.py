"""The `/api/messages` request handler: botbuilder's CloudAdapter with Bot Framework authentication.

With an app id, CloudAdapter validates the Bearer token of every request (a missing or invalid token is a 401
before the bot sees anything); without one it accepts unauthenticated requests, as Microsoft's local tools expect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from botbuilder.core import MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

from bot.adapters.teams.bot import HomeLoader, VipTeamsBot
from bot.adapters.teams.cards import CardKit
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
) -> Handler:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(config))
    bot = VipTeamsBot(store, kit, home, portal_base_url)

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
        except ValueError as exc:  # a body that is not JSON
            raise web.HTTPBadRequest() from exc
        return response if response is not None else web.Response(status=201)

    return messages

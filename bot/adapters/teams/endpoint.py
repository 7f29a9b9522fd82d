"""The `/api/messages` request handler: the Microsoft 365 Agents SDK's aiohttp `CloudAdapter` behind our token check.

With an app id every request must carry a valid Bot Framework channel token (see `auth.py`): anything else is a
401 before the SDK or the bot sees the activity, so nothing is stored and nothing is sent. Without one (development)
requests are accepted unauthenticated, as Microsoft's local tools expect.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.core.authorization import ClaimsIdentity

from bot.adapters.teams.auth import ChannelTokenValidator, Unauthorized
from bot.adapters.teams.bot import VipTeamsBot
from bot.adapters.teams.clients import ConnectorClients
from bot.domain.content import pick_locale
from bot.domain.i18n import Translator
from bot.logs import get_logger

log = get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY = 256 * 1024  # an activity is a few KB; Teams caps messages near 100 KB
SDK_CLAIMS_KEY = "claims_identity"  # where the SDK's aiohttp request adapter reads the caller's identity


def build_adapter(clients: ConnectorClients, translator: Translator) -> CloudAdapter:
    adapter = CloudAdapter(channel_service_client_factory=clients)

    async def on_error(turn_context: TurnContext, error: Exception) -> None:
        # The exception's text may quote the activity: only its type is logged.
        log.error("teams turn failed", error_type=type(error).__name__)
        if turn_context.activity.type == ActivityTypes.invoke:
            return  # the invoke answer says it failed; a message would stay in the chat
        try:
            locale = pick_locale(turn_context.activity.locale)
            await turn_context.send_activity(
                Activity(type=ActivityTypes.message, text=translator.t(locale, "common.error_generic"))
            )
        except Exception as reply_error:  # the error reply is best effort
            log.warning("teams error reply failed", error_type=type(reply_error).__name__)

    adapter.on_turn_error = on_error
    return adapter


def build_endpoint(
    adapter: CloudAdapter, bot: VipTeamsBot, validator: ChannelTokenValidator | None
) -> Handler:
    async def messages(request: web.Request) -> web.StreamResponse:
        if "application/json" not in request.headers.get("Content-Type", ""):
            raise web.HTTPUnsupportedMediaType()
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
        if validator is not None:
            try:
                body: Any = json.loads(await request.read())
            except ValueError as exc:
                raise web.HTTPBadRequest() from exc
            if not isinstance(body, dict):
                raise web.HTTPBadRequest()
            try:
                claims = await validator.claims(request.headers.get("Authorization"), body)
            except Unauthorized as refused:
                log.warning("teams request refused", reason=refused.code.value)
                raise web.HTTPUnauthorized() from refused
            identity = ClaimsIdentity(claims, authentication_type="Bearer")
            with warnings.catch_warnings():  # the SDK looks the identity up under this plain string key
                warnings.simplefilter("ignore", web.NotAppKeyWarning)
                request[SDK_CLAIMS_KEY] = identity
        try:
            response = await adapter.process(request, bot)
        except web.HTTPException:
            raise
        except ValueError as exc:  # an activity the SDK's model refuses
            log.warning("teams request refused", error_type=type(exc).__name__)
            raise web.HTTPBadRequest() from exc
        return response if response is not None else web.Response(status=202)

    return messages

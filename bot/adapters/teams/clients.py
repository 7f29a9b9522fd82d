"""The Agents SDK's connector clients, authenticated with the bot's own token and kept alive between turns.

The SDK's `RestChannelServiceClientFactory` opens a new HTTP session (and so a new TCP connection) for every turn
and closes it afterwards. The factory here hands the SDK one `TeamsConnectorClient` per (service URL, token),
whose session stays open until the service stops, so replies reuse kept-alive connections. The token comes from
the same `TokenSource` as the gateway's (client credentials at `VIPBOT_TEAMS_LOGIN_URL`); without an app id
(development) calls carry none. Roster reads use the same clients (Bot Connector REST, `/v3/conversations/{id}/
pagedmembers`); the SDK's Teams helpers for them live in a package that needs Python 3.12.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any
from urllib.parse import quote

from aiohttp import ClientSession, ClientTimeout, DummyCookieJar
from microsoft_agents.hosting.core import ChannelServiceClientFactoryBase, TurnContext
from microsoft_agents.hosting.core.authorization import ClaimsIdentity
from microsoft_agents.hosting.core.connector import ConnectorClientBase, UserTokenClientBase
from microsoft_agents.hosting.core.connector.client import UserTokenClient
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient

from bot.adapters.teams.gateway import TokenSource

MAX_CLIENTS = 64  # service URLs are a handful per cloud; the bound only matters for hostile dev traffic
TOKEN_SERVICE_URL = "https://api.botframework.com"  # noqa: S105  (a URL; never called: vipbot has no sign-in cards)
REQUEST_TIMEOUT = ClientTimeout(total=30)


class KeptConnectorClient(TeamsConnectorClient):
    """A connector client the SDK may "close" after every turn: the session stays for the next one."""

    async def close(self) -> None:
        return None

    async def really_close(self) -> None:
        await super().close()


class _IdleUserTokenClient(UserTokenClient):
    async def close(self) -> None:
        return None


class ConnectorClients(ChannelServiceClientFactoryBase):
    """The SDK's channel-service client factory, with clients reused across turns."""

    def __init__(self, tokens: TokenSource | None) -> None:
        self._tokens = tokens
        self._clients: OrderedDict[tuple[str, str], KeptConnectorClient] = OrderedDict()
        self._user_tokens: _IdleUserTokenClient | None = None

    async def client(self, service_url: str) -> KeptConnectorClient:
        token = await self._tokens.token() if self._tokens else ""
        key = (service_url.rstrip("/") + "/", token)
        found = self._clients.get(key)
        if found is not None:
            self._clients.move_to_end(key)
            return found
        # No cookie jar: the Bot Connector sets none, and nothing should carry over between conversations.
        session = ClientSession(base_url=key[0], timeout=REQUEST_TIMEOUT, cookie_jar=DummyCookieJar())
        created = KeptConnectorClient(endpoint=key[0], token=token, session=session)
        self._clients[key] = created
        stale = [k for k in self._clients if k[0] == key[0] and k != key]  # an expired token's client
        while len(self._clients) > MAX_CLIENTS:
            stale.append(next(iter(self._clients)))
        for old in stale:
            dropped = self._clients.pop(old, None)
            if dropped is not None:
                await dropped.really_close()
        return created

    async def create_connector_client(
        self,
        context: TurnContext | None,
        claims_identity: ClaimsIdentity,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        return await self.client(service_url)

    async def create_user_token_client(
        self, context: TurnContext, claims_identity: ClaimsIdentity, use_anonymous: bool = False
    ) -> UserTokenClientBase:
        if self._user_tokens is None:
            self._user_tokens = _IdleUserTokenClient(endpoint=TOKEN_SERVICE_URL, token="")
        return self._user_tokens

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            await client.really_close()
        if self._user_tokens is not None:
            user_tokens, self._user_tokens = self._user_tokens, None
            await UserTokenClient.close(user_tokens)


async def paged_members(
    client: TeamsConnectorClient, conversation_id: str, page_size: int, continuation: str | None
) -> tuple[list[str], str | None]:
    """One page of a team's or chat's roster: Bot Connector REST `GET /v3/conversations/{id}/pagedmembers`, on
    the SDK client's authenticated session. Returns (member ids, continuation token); read as plain JSON, since
    Teams leaves fields out or sends nulls that the SDK's models refuse."""
    params = {"pageSize": str(page_size)}
    if continuation:
        params["continuationToken"] = continuation
    path = f"v3/conversations/{quote(conversation_id, safe='')}/pagedmembers"
    async with client.client.get(path, params=params) as response:
        response.raise_for_status()
        data: Any = await response.json(content_type=None)
    members = data.get("members") if isinstance(data, dict) else None
    ids = [str(m["id"]) for m in members or [] if isinstance(m, dict) and m.get("id")]
    token = data.get("continuationToken") if isinstance(data, dict) else None
    return ids, str(token) if token else None

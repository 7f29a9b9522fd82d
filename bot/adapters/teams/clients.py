"""Reuse of botbuilder's per-turn clients.

CloudAdapter builds a new ConnectorClient and a new UserTokenClient for every incoming activity. Each build
constructs msrest's `ClientRetryPolicy`, whose status list is computed with a quadratic list scan (~13 ms of CPU
per client on these machines): two of them made a bare botbuilder bot top out near 40 requests a second. The
clients are stateless apart from their credentials (which cache their own tokens), so one per (bot app id,
service URL, audience) serves every turn. Authentication itself is untouched: every request is still validated.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from botframework.connector.auth import (
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    JwtTokenValidation,
)

MAX_CONNECTORS = 256  # service URLs are a handful per cloud; the bound only matters for hostile dev traffic


def _app_id(claims_identity: ClaimsIdentity | None) -> str:
    if claims_identity is None or not claims_identity.claims:
        return ""
    return str(JwtTokenValidation.get_app_id_from_claims(claims_identity.claims) or "")


class _ReusingConnectorFactory(ConnectorFactory):  # type: ignore[misc]
    def __init__(
        self, inner: ConnectorFactory, app_id: str, cache: OrderedDict[tuple[str, str, str], Any]
    ) -> None:
        self._inner = inner
        self._app_id = app_id
        self._cache = cache

    async def create(self, service_url: str, audience: str) -> Any:
        key = (self._app_id, service_url, audience or "")
        client = self._cache.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            self._cache[key] = client
            while len(self._cache) > MAX_CONNECTORS:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return client


class ReusingClientsAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]
    """Delegates everything to botbuilder's authentication; only hands out cached clients."""

    def __init__(self, inner: BotFrameworkAuthentication) -> None:
        self._inner = inner
        self._connectors: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._token_clients: dict[str, Any] = {}

    def _wrap(self, result: Any) -> Any:
        if result is not None and result.connector_factory is not None:
            result.connector_factory = _ReusingConnectorFactory(
                result.connector_factory, _app_id(result.claims_identity), self._connectors
            )
        return result

    async def authenticate_request(self, activity: Any, auth_header: str) -> Any:
        return self._wrap(await self._inner.authenticate_request(activity, auth_header))

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> Any:
        return self._wrap(await self._inner.authenticate_streaming_request(auth_header, channel_id_header))

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        inner = self._inner.create_connector_factory(claims_identity)
        return _ReusingConnectorFactory(inner, _app_id(claims_identity), self._connectors)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> Any:
        key = _app_id(claims_identity)
        client = self._token_clients.get(key)
        if client is None:
            client = await self._inner.create_user_token_client(claims_identity)
            self._token_clients[key] = client
        return client

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self._inner.get_originating_audience())

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)

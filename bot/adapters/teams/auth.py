"""Who may post to `/api/messages`: the Bot Framework's channel token, checked before the Agents SDK sees anything.

The SDK's own validator fetches its signing keys from a URL built into it and only logs a service-URL mismatch, so
the check is done here, with PyJWT, against the OpenID metadata named in the settings (Microsoft's by default;
sovereign clouds and tests set `VIPBOT_TEAMS_OPENID_METADATA_URL`). What the Bot Framework asks of a bot
(docs: "Authenticate requests from the Bot Connector service"):

- RS256 signature by a key from the metadata's `jwks_uri`, endorsed for the activity's channel;
- issuer `https://api.botframework.com`, audience the bot's app id, not expired (5 minutes of clock skew);
- the token's `serviceurl` claim equal to the activity's `serviceUrl` (replies go there: a token for one service
  URL must not send the bot's answers somewhere else).

Any failure is one `Unauthorized` with a code; nothing of the token is logged.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt

from bot.logs import get_logger

log = get_logger(__name__)

CHANNEL_ISSUER = "https://api.botframework.com"
PUBLIC_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
CLOCK_SKEW_SECONDS = 300
KEYS_MAX_AGE_SECONDS = 6 * 3600
# An unknown key id makes one early refresh (Microsoft rotates keys); not more often than this.
UNKNOWN_KEY_REFRESH_SECONDS = 300


class Refusal(enum.StrEnum):
    NO_TOKEN = "no_token"  # noqa: S105  (a refusal code, not a secret)
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    NOT_ENDORSED = "not_endorsed"
    INVALID = "invalid"  # signature, expiry, audience, issuer (PyJWT says which; we do not pass it on)
    SERVICE_URL = "service_url"
    KEYS_UNAVAILABLE = "keys_unavailable"


class Unauthorized(Exception):  # noqa: N818  (named for the HTTP answer it becomes)
    def __init__(self, code: Refusal) -> None:
        super().__init__(code.value)
        self.code = code


@dataclass(frozen=True, slots=True)
class _Key:
    key: Any  # the public key PyJWT verifies with
    endorsements: frozenset[str]


class SigningKeys:
    """The Bot Framework's signing keys, read from its OpenID metadata and kept for a few hours."""

    def __init__(self, metadata_url: str, http: aiohttp.ClientSession) -> None:
        self._metadata_url = metadata_url
        self._http = http
        self._keys: dict[str, _Key] = {}
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    async def get(self, key_id: str) -> _Key | None:
        if self._due(key_id):
            async with self._lock:
                if self._due(key_id):
                    await self.refresh()
        return self._keys.get(key_id)

    def _due(self, key_id: str) -> bool:
        age = time.monotonic() - self._fetched
        return (
            not self._keys
            or age > KEYS_MAX_AGE_SECONDS
            or (key_id not in self._keys and age > UNKNOWN_KEY_REFRESH_SECONDS)
        )

    async def refresh(self) -> None:
        try:
            async with self._http.get(self._metadata_url) as response:
                response.raise_for_status()
                metadata = await response.json(content_type=None)
            async with self._http.get(str(metadata["jwks_uri"])) as response:
                response.raise_for_status()
                jwks = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, KeyError, ValueError, TypeError) as exc:
            log.warning("teams signing keys could not be read", error_type=type(exc).__name__)
            if not self._keys:
                raise Unauthorized(Refusal.KEYS_UNAVAILABLE) from exc
            return
        keys: dict[str, _Key] = {}
        for data in jwks.get("keys", []):
            if not isinstance(data, Mapping) or data.get("kty") != "RSA" or not data.get("kid"):
                continue
            try:
                public = jwt.PyJWK.from_dict(dict(data), algorithm="RS256").key
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError):
                continue
            keys[str(data["kid"])] = _Key(public, frozenset(str(e) for e in data.get("endorsements") or ()))
        self._keys = keys
        self._fetched = time.monotonic()


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/").casefold() == b.rstrip("/").casefold()


class ChannelTokenValidator:
    """Checks the Authorization header of one request against the activity it carries."""

    def __init__(self, app_id: str, keys: SigningKeys) -> None:
        self._app_id = app_id
        self._keys = keys

    async def claims(self, authorization: str | None, activity: Mapping[str, Any]) -> dict[str, Any]:
        if not authorization:
            raise Unauthorized(Refusal.NO_TOKEN)
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise Unauthorized(Refusal.MALFORMED)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(Refusal.MALFORMED) from exc
        if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
            raise Unauthorized(Refusal.MALFORMED)  # "alg": "none", HS256 with the public key as secret, ...
        key = await self._keys.get(header["kid"])
        if key is None:
            raise Unauthorized(Refusal.UNKNOWN_KEY)
        channel = str(activity.get("channelId") or "")
        if key.endorsements and channel not in key.endorsements:
            raise Unauthorized(Refusal.NOT_ENDORSED)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self._app_id,
                issuer=CHANNEL_ISSUER,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(Refusal.INVALID) from exc
        service_url = activity.get("serviceUrl")
        claimed = claims.get("serviceurl")
        if (
            not isinstance(service_url, str)
            or not isinstance(claimed, str)
            or not _same_url(service_url, claimed)
        ):
            raise Unauthorized(Refusal.SERVICE_URL)
        return claims

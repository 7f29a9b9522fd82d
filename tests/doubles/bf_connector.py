"""A Bot Framework connector double on loopback: what the Teams side of the Bot Framework sees of the bot.

Point an Activity's `serviceUrl` (or a stored conversation reference) at `double.url` and every reply, proactive
send, update and 1:1 conversation creation lands here, recorded with its body and headers. It speaks the
Connector REST API (v3) paths the bot uses:

- ``POST /v3/conversations`` — create a conversation (proactive 1:1 messages); answers ``{"id": ...}``
- ``POST /v3/conversations/{conversation}/activities`` — send to a conversation; answers ``{"id": ...}``
- ``POST /v3/conversations/{conversation}/activities/{activity}`` — reply to an activity
- ``PUT /v3/conversations/{conversation}/activities/{activity}`` — update a sent activity
- ``DELETE /v3/conversations/{conversation}/activities/{activity}`` — delete it
- ``GET /v3/conversations/{conversation}/pagedmembers`` — the roster of a team or chat, paged
  (`set_members(conversation, [...])` programs it; empty by default)
- ``GET /v3/teams/{team}/conversations`` — the channels of a team (`set_team_channels(team, [...])` programs it;
  unknown teams answer 404 "NotFound", as Teams does for a team the bot is not in)
- ``POST /{tenant}/oauth2/v2.0/token`` — a Microsoft identity platform token endpoint (client credentials), so
  a bot with an app id can fetch its token here instead of from login.microsoftonline.com
- ``GET /v1/.well-known/openidconfiguration`` and ``GET /v1/.well-known/keys`` — the Bot Framework's OpenID
  metadata and signing keys (one RSA key, endorsed for msteams); `channel_token(app_id, service_url)` signs the
  token the Bot Framework would put on a request to the bot, so a bot with an app id can be tested end to end

Failures are programmable: `fail_next(n, status, retry_after=...)` answers the next `n` connector calls with
429 (with a Retry-After header) or a 5xx; `remove_conversation(id)` makes every later call to that
conversation answer 403 "BotNotInConversationRoster" (the bot was removed) or 404 "ConversationNotFound".

Message size, as Teams enforces it: a send, reply or update whose activity is too large is answered 413 with the
error code "MessageSizeTooBig" and nothing is delivered. Teams' documentation has given the limit as about 28 KB
for the whole message and, later, as 40 KB (now 100 KB) for the message encoded as UTF-16 without its base64
images; the double holds the bot to the strictest reading of each: the request body at most `message_limit` bytes
(28 KB, images included) and, without its `data:image/…;base64,` URIs, at most `message_limit_utf16` bytes as
UTF-16 (40 KB).

Use it through the `bf_connector` fixture: re-export it from your tests' conftest.py
(``from tests.doubles.bf_connector import bf_connector`` plus ``__all__ = ["bf_connector"]``), then::

    async def test_x(bf_connector: BotConnectorDouble) -> None:
        ...  # send through a gateway whose reference has service_url=bf_connector.url
        assert bf_connector.activities("19:channel@thread.tacv2")[0]["type"] == "message"

Confidentiality tests grep `bf_connector.raw_traffic()` for their canary.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.doubles.card_check import card_problems, entries_of_activity

#: The token the double's token endpoint issues; the double accepts calls with or without it unless
#: `require_token` is set.
ISSUED_TOKEN = "bf-double-access-token"
CHANNEL_ISSUER = "https://api.botframework.com"
SIGNING_KEY_ID = "bf-double-key-1"
MESSAGE_LIMIT = 28 * 1024
MESSAGE_LIMIT_UTF16 = 40 * 1024
_BASE64_IMAGE = re.compile(rb"data:image/[A-Za-z0-9.+-]+;base64,[A-Za-z0-9+/=]*")


def message_too_large(raw: bytes, limit: int = MESSAGE_LIMIT, limit_utf16: int = MESSAGE_LIMIT_UTF16) -> bool:
    """Whether Teams would refuse this activity body as too large (see the module's docstring)."""
    if len(raw) > limit:
        return True
    text = _BASE64_IMAGE.sub(b"", raw).decode("utf-8", "replace")
    return len(text.encode("utf-16-le")) > limit_utf16


@dataclass(frozen=True)
class RecordedRequest:
    """One request the bot made to the connector."""

    method: str
    path: str
    conversation_id: str | None
    activity_id: str | None
    body: Any
    raw: bytes
    authorization: str | None
    status: int
    answered_id: str | None = None  # the activity id the double gave back (sends, replies, updates)

    @property
    def kind(self) -> str:
        """send | reply | update | delete | create_conversation | members | token"""
        if self.path.endswith("/oauth2/v2.0/token"):
            return "token"
        if self.path.endswith("/pagedmembers"):
            return "members"
        if self.path.startswith("/v3/teams/"):
            return "team_channels"
        if self.conversation_id is None:
            return "create_conversation"
        if self.activity_id is None:
            return "send"
        return {"POST": "reply", "PUT": "update", "DELETE": "delete"}.get(self.method, self.method.lower())


@dataclass
class _Failure:
    remaining: int
    status: int
    retry_after: float | None


@functools.cache
def process_signing_key() -> rsa.RSAPrivateKey:
    """The doubles' RSA signing key, made once per test process: a 2048-bit key costs some 70 ms of CPU to make,
    and every test with a double made one. Each double still has its own address (so its own key set URL); a test
    about a token signed with another key makes that key itself."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class BotConnectorDouble:
    """The Bot Framework connector service on 127.0.0.1, port chosen by the OS."""

    require_token: bool = False
    message_limit: int = MESSAGE_LIMIT  # bytes of an activity's body, images included
    message_limit_utf16: int = MESSAGE_LIMIT_UTF16  # bytes of its body as UTF-16, without base64 images
    client_secret: str | None = None  # when set, the token endpoint refuses any other secret (invalid_client)
    requests: list[RecordedRequest] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _removed: dict[str, int] = field(default_factory=dict)
    _members: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _team_channels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    url: str = ""
    _signing_key: rsa.RSAPrivateKey = field(default_factory=process_signing_key)

    @property
    def openid_metadata_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    def channel_token(
        self,
        app_id: str,
        service_url: str,
        *,
        key: rsa.RSAPrivateKey | None = None,
        key_id: str = SIGNING_KEY_ID,
        expires_in: int = 3600,
        issuer: str = CHANNEL_ISSUER,
    ) -> str:
        """A token as the Bot Framework signs it for a request to the bot (pass `key` to forge one)."""
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": app_id,
            "serviceurl": service_url,
            "nbf": now - 60,
            "iat": now - 60,
            "exp": now + expires_in,
        }
        signer = key or self._signing_key
        return jwt.encode(claims, signer, algorithm="RS256", headers={"kid": key_id})

    def public_key_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self._signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create_conversation)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._activity)
        app.router.add_route("*", "/v3/conversations/{conversation}/activities/{activity}", self._activity)
        app.router.add_get("/v3/conversations/{conversation}/pagedmembers", self._paged_members)
        app.router.add_get("/v3/teams/{team}/conversations", self._team_conversations)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/v1/.well-known/openidconfiguration", self._openid_configuration)
        app.router.add_get("/v1/.well-known/keys", self._keys)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # the bound socket is the only way to learn port 0's choice
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- programming failures -------------------------------------------------------------------------

    def fail_next(self, count: int, status: int, retry_after: float | None = None) -> None:
        """Answer the next `count` connector calls (not token calls) with `status` (429 or 5xx)."""
        self._failures.append(_Failure(count, status, retry_after))

    def set_members(self, conversation_id: str, members: list[dict[str, Any]]) -> None:
        """The roster `pagedmembers` answers for a team (its id) or chat: dicts like {"id": "29:…", "name": …}."""
        self._members[conversation_id] = members

    def set_team_channels(self, team_id: str, channels: list[dict[str, Any]]) -> None:
        """What `GET /v3/teams/{team}/conversations` lists: dicts like {"id": "19:…@thread.tacv2", "name": …}
        (the General channel has "name": None, as in Teams)."""
        self._team_channels[team_id] = channels

    def remove_conversation(self, conversation_id: str, status: int = 403) -> None:
        """From now on, calls to this conversation answer 403 (bot removed) or 404 (conversation not found)."""
        self._removed[conversation_id] = status

    # --- reading what was sent ------------------------------------------------------------------------

    def activities(self, conversation_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """Bodies of activities that were accepted (2xx), optionally for one conversation or of one kind."""
        return [
            r.body
            for r in self.requests
            if r.kind in {"send", "reply", "update"}
            and 200 <= r.status < 300
            and (conversation_id is None or r.conversation_id == conversation_id)
            and (kind is None or r.kind == kind)
        ]

    def created_conversations(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.kind == "create_conversation" and 200 <= r.status < 300]

    def raw_traffic(self) -> bytes:
        """Every byte the bot sent to the double (bodies and authorization headers), for canary searches."""
        return b"\n".join(r.raw + (r.authorization or "").encode() for r in self.requests)

    def sent_cards(self) -> list[dict[str, Any]]:
        """Every card the bot sent or updated (accepted or not), ready for `card_problems`."""
        entries: list[dict[str, Any]] = []
        for number, request in enumerate(self.requests):
            if request.kind in {"send", "reply", "update"}:
                entries += entries_of_activity(
                    f"{request.kind} #{number} to {request.conversation_id}", request.body
                )
        return entries

    # --- handlers -------------------------------------------------------------------------------------

    def _planned_failure(self) -> _Failure | None:
        while self._failures and self._failures[0].remaining <= 0:
            self._failures.pop(0)
        if not self._failures:
            return None
        failure = self._failures[0]
        failure.remaining -= 1
        return failure

    async def _record(self, request: web.Request, status: int) -> RecordedRequest:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            conversation_id=request.match_info.get("conversation"),
            activity_id=request.match_info.get("activity"),
            body=body,
            raw=raw,
            authorization=request.headers.get("Authorization"),
            status=status,
        )
        self.requests.append(recorded)
        return recorded

    def _refusal(self, request: web.Request) -> web.Response | None:
        if self.require_token and request.headers.get("Authorization") != f"Bearer {ISSUED_TOKEN}":
            return _error(401, "Unauthorized", "Authorization has been denied for this request.")
        failure = self._planned_failure()
        if failure is not None:
            headers = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else {}
            code = "Throttled" if failure.status == 429 else "ServiceError"
            return _error(failure.status, code, "planned failure", headers)
        conversation = request.match_info.get("conversation")
        if conversation is not None and conversation in self._removed:
            status = self._removed[conversation]
            if status == 404:
                return _error(404, "ConversationNotFound", "Conversation not found.")
            return _error(
                403, "BotNotInConversationRoster", "The bot is not part of the conversation roster."
            )
        return None

    async def _activity(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            await self._record(request, refusal.status)
            return refusal
        if request.method in {"POST", "PUT"} and message_too_large(
            await request.read(), self.message_limit, self.message_limit_utf16
        ):
            await self._record(request, 413)
            return _error(413, "MessageSizeTooBig", "Message size too big.")
        recorded = await self._record(request, 200)
        if recorded.kind == "delete":
            return web.Response(status=200)
        activity_id = recorded.activity_id if recorded.kind == "update" else f"activity-{next(self._ids)}"
        where = next(i for i in range(len(self.requests) - 1, -1, -1) if self.requests[i] is recorded)
        self.requests[where] = replace(recorded, answered_id=activity_id)
        return web.json_response({"id": activity_id})

    async def _paged_members(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            await self._record(request, refusal.status)
            return refusal
        await self._record(request, 200)
        members = self._members.get(request.match_info["conversation"], [])
        size = int(request.query.get("pageSize") or 200)
        start = int(request.query.get("continuationToken") or 0)
        page = members[start : start + size]
        token = str(start + size) if start + size < len(members) else None
        return web.json_response({"members": page, "continuationToken": token})

    async def _team_conversations(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            await self._record(request, refusal.status)
            return refusal
        channels = self._team_channels.get(request.match_info["team"])
        if channels is None:
            await self._record(request, 404)
            return _error(404, "NotFound", "Team not found.")
        await self._record(request, 200)
        return web.json_response({"conversations": channels})

    async def _create_conversation(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            await self._record(request, refusal.status)
            return refusal
        await self._record(request, 201)
        number = next(self._ids)
        return web.json_response(
            {"id": f"a:personal-{number}", "serviceUrl": self.url, "activityId": f"activity-{number}"},
            status=201,
        )

    async def _token(self, request: web.Request) -> web.Response:
        await self._record(request, 200)
        form = await request.post()
        if form.get("grant_type") != "client_credentials" or not form.get("client_id"):
            return web.json_response({"error": "invalid_request"}, status=400)
        if self.client_secret is not None and form.get("client_secret") != self.client_secret:
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "access_token": ISSUED_TOKEN})

    async def _openid_configuration(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": CHANNEL_ISSUER,
                "authorization_endpoint": f"{self.url}/v1/.well-known/authorize",
                "jwks_uri": f"{self.url}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, _request: web.Request) -> web.Response:
        jwk = json.loads(RSAAlgorithm.to_jwk(self._signing_key.public_key()))
        jwk.update({"kid": SIGNING_KEY_ID, "use": "sig", "alg": "RS256", "endorsements": ["msteams"]})
        return web.json_response({"keys": [jwk]})


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


@pytest.fixture
async def bf_connector() -> AsyncIterator[BotConnectorDouble]:
    """A fresh connector double for one test, stopped afterwards. Every card the bot sent to it during the test is
    then checked with Microsoft's `adaptivecards` package (see tests/doubles/card_check.py)."""
    double = BotConnectorDouble()
    await double.start()
    yield double
    await double.stop()
    problems = card_problems(double.sent_cards())
    assert not problems, "cards Teams would not render as sent:\n" + "\n".join(problems)

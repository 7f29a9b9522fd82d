"""A Slack Web API simulator on a free loopback port, for every test that talks to Slack.

It records every call (method, params, token) and serves the methods vipbot uses with Slack's own shapes:
``auth.test``, ``oauth.v2.access``, ``chat.postMessage`` / ``chat.update`` / ``chat.postEphemeral``,
``views.publish``, ``users.info``, ``users.list`` (paged with a cursor),
``conversations.info`` / ``conversations.open`` / ``conversations.history``,
``conversations.list`` (paged with a cursor; private channels only where the bot is a member; ``team=`` of
``add_channel`` says which workspace lists it, default every workspace),
the ``files.uploadV2`` flow (``files.getUploadURLExternal``, the upload itself, ``files.completeUploadExternal``),
and Socket Mode (``apps.connections.open`` with an app token from ``add_app_token``, a WebSocket that says hello;
``await sim.socket_send(envelope)`` pushes an envelope, ``sim.socket_acks`` holds what the app acknowledged).

Usage (the ``slack_api`` fixture at the bottom of this module does the first two lines; import it into a
conftest with ``from tests.doubles.slack_api import slack_api  # noqa: F401``)::

    sim = SlackApiSimulator()
    await sim.start()                      # binds 127.0.0.1:0
    settings["SLACK_API_URL"] = sim.api_url  # "http://127.0.0.1:<port>/api/"
    sim.add_workspace("T1", "xoxb-t1")       # tokens it accepts (the default workspace is T0001/xoxb-test)
    sim.add_user("U1", locale="en-US")     # team_id=, is_bot=, guest="multi"|"single"
    sim.deactivate_user("U1")              # users.list then lists it with deleted: true
    sim.user_event("user_change", "U1")    # the event Slack would send (feed it signed to /slack/events)
    sim.fail_next("chat.postMessage", status=429, retry_after=1)      # the next call gets a 429
    sim.fail_next("chat.postMessage", status=500, count=2)            # the next two get a 500
    sim.fail_next("chat.postMessage", status=503, accept=True)        # posts the message, then answers 503
    sim.fail_next("chat.postMessage", error="channel_not_found")      # ok=false with that error
    sim.limit("chat.postMessage", per_second=1)                       # enforced rate limit (429s beyond it)
    ...
    sim.calls_to("chat.postMessage")       # [Call(method, params, token, status), ...]
    sim.messages["C1"]                     # what is in a channel (posting to a user id lands in its DM "D…")
    await sim.stop()

Everything the simulator saw is in ``sim.calls`` (answered calls and refused ones), so confidentiality tests can
search all traffic: ``sim.traffic_contains("canary")``.

Messages are held to Slack's limits (``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``): at most 50
blocks, a section's text at most 3,000 characters, a header's 150, a context block at most 10 elements
(``invalid_blocks``); a fallback ``text`` over 40,000 characters is ``msg_too_long``; and blocks whose texts
together exceed ``BLOCK_TEXT_LIMIT`` characters are ``msg_blocks_too_long`` — a limit Slack does not document as
a figure (its developers speak of about 12,000 characters with room for the blocks themselves; refusals have been
reported from about 11,300), so the simulator refuses from 11,000.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import WSMsgType, web

DEFAULT_TEAM = "T0001"
DEFAULT_TOKEN = "xoxb-test"

# Methods that need no token (Slack checks the client credentials instead).
_NO_TOKEN = {"oauth.v2.access", "api.test"}
MESSAGE_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
MESSAGE_TEXT = 40_000
BLOCK_TEXT_LIMIT = 11_000


def _texts(value: Any) -> list[str]:
    """Every `text` string inside blocks."""
    if isinstance(value, dict):
        return [
            found
            for key, item in value.items()
            for found in ([item] if key == "text" and isinstance(item, str) else _texts(item))
        ]
    if isinstance(value, list):
        return [found for item in value for found in _texts(item)]
    return []


def _block_text(block: dict[str, Any]) -> str:
    text = block.get("text")
    return str(text.get("text", "")) if isinstance(text, dict) else ""


def message_refusal(params: dict[str, Any]) -> str | None:  # noqa: PLR0911  (one answer per limit)
    """The error Slack answers a message with that breaks its limits (see the module docstring), or None."""
    if len(str(params.get("text") or "")) > MESSAGE_TEXT:
        return "msg_too_long"
    blocks = params.get("blocks")
    if not blocks:
        return None
    if not isinstance(blocks, list) or len(blocks) > MESSAGE_BLOCKS:
        return "invalid_blocks"
    for block in blocks:
        kind = block.get("type")
        if kind == "section" and len(_block_text(block)) > SECTION_TEXT:
            return "invalid_blocks"
        if kind == "header" and len(_block_text(block)) > HEADER_TEXT:
            return "invalid_blocks"
        if kind == "context" and len(block.get("elements") or []) > CONTEXT_ELEMENTS:
            return "invalid_blocks"
    if sum(len(text) for text in _texts(blocks)) > BLOCK_TEXT_LIMIT:
        return "msg_blocks_too_long"
    return None


@dataclass
class Call:
    """One request the simulator received."""

    method: str
    params: dict[str, Any]
    token: str | None
    status: int = 200
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    """A programmed answer for the next `count` calls of a method."""

    count: int
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    accept: bool = False  # perform the call's effect first, then answer with the failure


@dataclass
class Workspace:
    team_id: str
    team_name: str
    token: str
    bot_user_id: str
    bot_id: str
    enterprise_id: str | None = None
    scopes: str | None = None  # sent as X-OAuth-Scopes on auth.test when set, as Slack does


@dataclass
class OAuthGrant:
    code: str
    team_id: str
    team_name: str
    token: str
    bot_user_id: str
    scopes: str


class SlackApiSimulator:
    """The Slack Web API on loopback. See the module docstring for how to use it."""

    def __init__(self, *, client_id: str = "111.222", client_secret: str = "sim-client-secret") -> None:  # noqa: S107
        self.client_id = client_id
        self.client_secret = client_secret
        self.calls: list[Call] = []
        self.workspaces: dict[str, Workspace] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.channel_teams: dict[
            str, str
        ] = {}  # channel id → the workspace that lists it (default: every one)
        self.messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.grants: dict[str, OAuthGrant] = {}
        self.grid_grants: dict[str, tuple[str, str]] = {}  # code -> (enterprise id, token)
        self.grids: dict[str, list[str]] = {}  # enterprise id -> the workspaces an org-wide install reaches
        self._failures: dict[str, deque[Failure]] = defaultdict(deque)
        self._limits: dict[str, float] = {}
        self._delays: dict[str, float] = {}
        self._last_call: dict[tuple[str, str | None], float] = {}
        self._ts = itertools.count(1)
        self.app_tokens: set[str] = set()
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_acks: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.add_workspace(DEFAULT_TEAM, DEFAULT_TOKEN, team_name="Default workspace")

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for socket in list(self.sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL (or a WebClient's base_url) should be."""
        return f"{self.base_url}/api/"

    # -- programming -----------------------------------------------------------------------------------------

    def add_workspace(
        self, team_id: str, token: str, *, team_name: str | None = None, bot_user_id: str | None = None
    ) -> Workspace:
        workspace = Workspace(
            team_id=team_id,
            team_name=team_name or f"Workspace {team_id}",
            token=token,
            bot_user_id=bot_user_id or f"UB{team_id}",
            bot_id=f"B{team_id}",
        )
        self.workspaces[team_id] = workspace
        return workspace

    def add_user(
        self,
        user_id: str,
        *,
        locale: str = "nl-NL",
        name: str | None = None,
        tz: str = "Europe/Amsterdam",
        team_id: str = DEFAULT_TEAM,
        is_bot: bool = False,
        guest: str | None = None,
    ) -> dict[str, Any]:
        """A person (or a bot) of workspace `team_id`; `guest="multi"` or `"single"` makes them a guest."""
        self.users[user_id] = {
            "id": user_id,
            "team_id": team_id,
            "name": name or user_id.lower(),
            "real_name": name or user_id,
            "locale": locale,
            "tz": tz,
            "deleted": False,
            "is_bot": is_bot,
            "is_restricted": guest is not None,
            "is_ultra_restricted": guest == "single",
        }
        return self.users[user_id]

    def deactivate_user(self, user_id: str) -> dict[str, Any]:
        """The account is deactivated (users.list still lists it, with deleted: true, as Slack does)."""
        self.users[user_id]["deleted"] = True
        return self.users[user_id]

    def user_event(self, event_type: str, user_id: str) -> dict[str, Any]:
        """The `team_join` / `user_change` event Slack sends for a user: the user object without the locale."""
        user = {k: v for k, v in self.users[user_id].items() if k != "locale"}
        return {"type": event_type, "user": user}

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        archived: bool = False,
        private: bool = False,
        member: bool = True,
        team: str | None = None,
    ) -> None:
        self.channels[channel_id] = {
            "id": channel_id,
            "name": name,
            "is_channel": not private,
            "is_private": private,
            "is_archived": archived,
            "is_member": member,
        }
        if team is not None:
            self.channel_teams[channel_id] = team

    def add_oauth_grant(
        self,
        code: str,
        team_id: str,
        token: str,
        *,
        team_name: str | None = None,
        scopes: str = "chat:write,commands,im:history,users:read",
    ) -> None:
        """`oauth.v2.access` with this code installs the app in `team_id` with `token`."""
        self.grants[code] = OAuthGrant(
            code, team_id, team_name or f"Workspace {team_id}", token, f"UB{team_id}", scopes
        )

    def add_grid_grant(self, code: str, enterprise_id: str, token: str, teams: list[str]) -> None:
        """`oauth.v2.access` with this code installs the app org-wide in Enterprise Grid `enterprise_id`, reaching
        `teams` (what `auth.teams.list` answers with that token)."""
        self.grid_grants[code] = (enterprise_id, token)
        self.grids[enterprise_id] = list(teams)

    def add_app_token(self, token: str) -> None:
        """An app-level token (xapp-…) that may open Socket Mode connections."""
        self.app_tokens.add(token)

    async def socket_send(self, envelope: dict[str, Any]) -> None:
        """Push a Socket Mode envelope (events_api, interactive, slash_commands) to every connected app."""
        for socket in list(self.sockets):
            if not socket.closed:
                await socket.send_json(envelope)

    def fail_next(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
        accept: bool = False,
    ) -> None:
        """Answer the next `count` calls of `method` with a failure.

        `status=429` sends `Retry-After` (default 1 s); `status>=500` answers ok=false with that status;
        `error="channel_not_found"` answers 200 ok=false. `accept=True` performs the call first (the message is
        posted) and then answers with the failure, like a Slack edge that fails after the work was done.
        """
        if status is None:
            status = 200 if error else 500
        if status == 429 and retry_after is None:
            retry_after = 1
        if error is None:
            error = "ratelimited" if status == 429 else "internal_error" if status >= 500 else "unknown"
        self._failures[method].append(
            Failure(count=count, status=status, error=error, retry_after=retry_after, accept=accept)
        )

    def limit(self, method: str, *, per_second: float) -> None:
        """Enforce a rate limit on `method` per token: calls closer together get a 429 with Retry-After."""
        self._limits[method] = per_second

    def slow(self, method: str, *, seconds: float) -> None:
        """Answer `method` only after `seconds`, as a busy Slack does."""
        self._delays[method] = seconds

    @staticmethod
    def dm_channel(user_id: str) -> str:
        """The id of the app's DM with a person: "D" + the user id without its first letter."""
        return "D" + user_id[1:]

    # -- reading what happened ---------------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def traffic_contains(self, needle: str) -> bool:
        """Whether `needle` occurs anywhere in what was sent to the simulator."""
        return any(needle in json.dumps(c.params, default=str) for c in self.calls) or any(
            needle.encode() in u.get("data", b"") for u in self.uploads.values()
        )

    def reset_calls(self) -> None:
        self.calls.clear()

    # -- serving ---------------------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                params.update(json.loads(raw or b"{}"))
            elif request.content_type.startswith("multipart/"):
                pass
            else:
                params.update(dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)))
        for key in ("blocks", "view", "metadata", "files", "attachments"):
            value = params.get(key)
            if isinstance(value, str) and value[:1] in "[{":
                params[key] = json.loads(value)
        return params

    @staticmethod
    def _token(request: web.Request, params: dict[str, Any]) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:]
        if header.lower().startswith("basic "):  # oauth.v2.access may send the client credentials this way
            client_id, _, client_secret = base64.b64decode(header[6:]).decode("utf-8").partition(":")
            params.setdefault("client_id", client_id)
            params.setdefault("client_secret", client_secret)
        token = params.pop("token", None)
        return str(token) if token else None

    async def _handle(self, request: web.Request) -> web.Response:  # noqa: PLR0911
        method = request.match_info["method"]
        params = await self._params(request)
        token = self._token(request, params)
        call = Call(method=method, params=params, token=token)
        self.calls.append(call)
        if method in self._delays:
            await asyncio.sleep(self._delays[method])

        workspace = next((w for w in self.workspaces.values() if w.token == token), None)
        if method == "apps.connections.open":
            if token not in self.app_tokens:
                return self._answer(call, {"ok": False, "error": "invalid_auth"})
            return self._answer(call, {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"})
        if method not in _NO_TOKEN and workspace is None:
            return self._answer(
                call, {"ok": False, "error": "not_authed" if token is None else "invalid_auth"}
            )

        limited = self._rate_limited(method, token)
        if limited is not None:
            call.status = 429
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(limited)}
            )

        failure = self._take_failure(method)
        if failure is not None and not failure.accept:
            return self._fail(call, failure)
        try:
            body = self._serve(method, params, workspace)
        except _SlackError as exc:
            body = {"ok": False, "error": exc.error}
        if failure is not None:
            return self._fail(call, failure)
        if method == "auth.test" and workspace is not None and workspace.scopes is not None:
            call.status = 200
            return web.json_response(body, headers={"X-OAuth-Scopes": workspace.scopes})
        return self._answer(call, body)

    def _answer(self, call: Call, body: dict[str, Any]) -> web.Response:
        call.status = 200
        return web.json_response(body)

    @staticmethod
    def _fail(call: Call, failure: Failure) -> web.Response:
        call.status = failure.status
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else None
        return web.json_response(
            {"ok": False, "error": failure.error}, status=failure.status, headers=headers
        )

    def _take_failure(self, method: str) -> Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.count -= 1
        if failure.count <= 0:
            queue.popleft()
        return failure

    def _rate_limited(self, method: str, token: str | None) -> int | None:
        per_second = self._limits.get(method)
        if per_second is None:
            return None
        now = time.monotonic()
        last = self._last_call.get((method, token))
        interval = 1.0 / per_second
        if last is not None and now - last < interval:
            return max(1, round(interval - (now - last) + 0.5))
        self._last_call[(method, token)] = now
        return None

    def _serve(self, method: str, params: dict[str, Any], workspace: Workspace | None) -> dict[str, Any]:
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            raise _SlackError("unknown_method")
        result: dict[str, Any] = handler(params, workspace)
        return result

    @staticmethod
    def _within_limits(params: dict[str, Any]) -> None:
        refusal = message_refusal(params)
        if refusal is not None:
            raise _SlackError(refusal)

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _channel_for(self, address: str) -> str:
        """Posting to a user id lands in the app's DM with that person, as on Slack."""
        if address.startswith(("U", "W")):
            if address not in self.users:
                raise _SlackError("channel_not_found")
            return self.dm_channel(address)
        if address.startswith("D"):
            if not any(self.dm_channel(user) == address for user in self.users):
                raise _SlackError("channel_not_found")
            return address
        channel = self.channels.get(address)
        if channel is None:
            raise _SlackError("channel_not_found")
        if channel["is_archived"]:
            raise _SlackError("is_archived")
        if not channel["is_member"]:
            raise _SlackError("not_in_channel")
        return address

    # -- methods ---------------------------------------------------------------------------------------------

    def _m_api_test(self, params: dict[str, Any], _w: Workspace | None) -> dict[str, Any]:
        return {"ok": True, "args": params}

    def _m_auth_test(self, _params: dict[str, Any], w: Workspace | None) -> dict[str, Any]:
        assert w is not None
        return {
            "ok": True,
            "url": f"https://{w.team_id.lower()}.slack.test/",
            "team": w.team_name,
            "user": "vipbot",
            "team_id": w.team_id,
            "user_id": w.bot_user_id,
            "bot_id": w.bot_id,
            "enterprise_id": w.enterprise_id,
            "is_enterprise_install": w.enterprise_id is not None,
        }

    def _m_oauth_v2_access(self, params: dict[str, Any], _w: Workspace | None) -> dict[str, Any]:
        if params.get("client_id") != self.client_id or params.get("client_secret") != self.client_secret:
            raise _SlackError("invalid_client_id")
        grid = self.grid_grants.pop(str(params.get("code")), None)
        if grid is not None:
            enterprise_id, token = grid
            workspace = self.add_workspace(enterprise_id, token, team_name=f"Grid {enterprise_id}")
            workspace.enterprise_id = enterprise_id
            return {
                "ok": True,
                "app_id": "A0SIM",
                "authed_user": {"id": "UINSTALLER"},
                "scope": "chat:write,commands,im:history,users:read",
                "token_type": "bot",
                "access_token": token,
                "bot_user_id": workspace.bot_user_id,
                "team": None,
                "enterprise": {"id": enterprise_id, "name": f"Grid {enterprise_id}"},
                "is_enterprise_install": True,
            }
        grant = self.grants.pop(str(params.get("code")), None)
        if grant is None:
            raise _SlackError("invalid_code")
        workspace = self.add_workspace(
            grant.team_id, grant.token, team_name=grant.team_name, bot_user_id=grant.bot_user_id
        )
        return {
            "ok": True,
            "app_id": "A0SIM",
            "authed_user": {"id": "UINSTALLER"},
            "scope": grant.scopes,
            "token_type": "bot",
            "access_token": grant.token,
            "bot_user_id": workspace.bot_user_id,
            "team": {"id": grant.team_id, "name": grant.team_name},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, params: dict[str, Any], _w: Workspace | None) -> dict[str, Any]:  # noqa: N802
        channel = self._channel_for(str(params.get("channel", "")))
        if not params.get("text") and not params.get("blocks"):
            raise _SlackError("no_text")
        self._within_limits(params)
        message = {
            "ts": self._next_ts(),
            "text": params.get("text", ""),
            "blocks": params.get("blocks"),
            "metadata": params.get("metadata"),
            "thread_ts": params.get("thread_ts"),
        }
        self.messages[channel].append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _m_chat_update(self, params: dict[str, Any], _w: Workspace | None) -> dict[str, Any]:
        channel = self._channel_for(str(params.get("channel", "")))
        self._within_limits(params)
        for message in self.messages[channel]:
            if message["ts"] == params.get("ts"):
                message["text"] = params.get("text", message["text"])
                message["blocks"] = params.get("blocks", message["blocks"])
                message["edited"] = True
                return {"ok": True, "channel": channel, "ts": message["ts"], "text": message["text"]}
        raise _SlackError("message_not_found")

    def _m_chat_postEphemeral(self, params: dict[str, Any], _w: Workspace | None) -> dict[str, Any]:  # noqa: N802
        channel = self._channel_for(str(params.get("channel", "")))
        self._within_limits(params)
        if str(params.get("user", "")) not in self.users:
            raise _SlackError("user_not_in_channel")
        ts = self._next_ts()
        self.ephemerals.append({"channel": channel, "user": params.get("user"), "ts": ts, **params})
        return {"ok": True, "message_ts": ts}

    def _m_views_publish(self, params: dict[str, Any], _w: Workspace | None) -> dict[str, Any]:
        user = str(params.get("user_id", ""))
        view = params.get("view")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise _SlackError("invalid_arguments")
        if len(view.get("blocks", [])) > 100:
            raise _SlackError("invalid_blocks")
        self.views[user] = view
        return {"ok": True, "view": {"id": "V" + secrets.token_hex(4).upper(), **view}}

    def _m_users_info(self, params: dict[str, Any], _w: Workspace | None) -> dict[str, Any]:
        user = self.users.get(str(params.get("user", "")))
        if user is None:
            raise _SlackError("user_not_found")
        shown = dict(user)
        if str(params.get("include_locale", "")).lower() not in {"1", "true"}:
            shown.pop("locale")
        return {"ok": True, "user": shown}

    def _m_auth_teams_list(self, params: dict[str, Any], w: Workspace | None) -> dict[str, Any]:
        teams = self.grids.get(w.team_id, []) if w is not None else []
        return {
            "ok": True,
            "teams": [{"id": t, "name": f"Workspace {t}"} for t in teams],
            "response_metadata": {"next_cursor": ""},
        }

    def _m_users_list(self, params: dict[str, Any], w: Workspace | None) -> dict[str, Any]:
        """Every user of the token's workspace (or of `team_id`), `limit` a page, with an opaque cursor."""
        team = str(params.get("team_id") or (w.team_id if w else DEFAULT_TEAM))
        include_locale = str(params.get("include_locale", "")).lower() in {"1", "true"}
        everyone = [u for u in self.users.values() if u.get("team_id", DEFAULT_TEAM) == team]
        limit = max(1, min(int(params.get("limit") or 1000), 1000))
        start = 0
        cursor = str(params.get("cursor") or "")
        if cursor:
            try:
                start = int(base64.b64decode(cursor).decode().removeprefix("users:"))
            except ValueError:
                raise _SlackError("invalid_cursor") from None
        page = everyone[start : start + limit]
        members = [u if include_locale else {k: v for k, v in u.items() if k != "locale"} for u in page]
        following = start + limit
        next_cursor = (
            base64.b64encode(f"users:{following}".encode()).decode() if following < len(everyone) else ""
        )
        return {
            "ok": True,
            "members": members,
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _m_conversations_info(self, params: dict[str, Any], _w: Workspace | None) -> dict[str, Any]:
        channel = self.channels.get(str(params.get("channel", "")))
        if channel is None:
            raise _SlackError("channel_not_found")
        return {"ok": True, "channel": channel}

    def _m_conversations_list(self, params: dict[str, Any], w: Workspace | None) -> dict[str, Any]:
        """The workspace's channels of the asked `types`, `limit` a page: public ones, and private ones the bot is
        in (as Slack answers a bot token); `exclude_archived` as Slack."""
        types = set(str(params.get("types") or "public_channel").split(","))
        team = w.team_id if w is not None else DEFAULT_TEAM
        skip_archived = str(params.get("exclude_archived", "")).lower() in {"1", "true"}
        listed = [
            c
            for cid, c in self.channels.items()
            if self.channel_teams.get(cid, team) == team
            and ("private_channel" if c["is_private"] else "public_channel") in types
            and (c["is_member"] or not c["is_private"])
            and not (skip_archived and c["is_archived"])
        ]
        limit = max(1, min(int(params.get("limit") or 100), 1000))
        cursor = str(params.get("cursor") or "")
        start = int(base64.b64decode(cursor).decode().removeprefix("channels:")) if cursor else 0
        following = start + limit
        next_cursor = (
            base64.b64encode(f"channels:{following}".encode()).decode() if following < len(listed) else ""
        )
        return {
            "ok": True,
            "channels": listed[start:following],
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _m_conversations_open(self, params: dict[str, Any], _w: Workspace | None) -> dict[str, Any]:
        users = str(params.get("users", ""))
        if users not in self.users:
            raise _SlackError("user_not_found")
        return {"ok": True, "channel": {"id": self.dm_channel(users)}}

    def _m_conversations_history(self, params: dict[str, Any], _w: Workspace | None) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if channel not in self.channels and not channel.startswith("D"):
            raise _SlackError("channel_not_found")
        oldest = float(params.get("oldest") or 0)
        include_metadata = str(params.get("include_all_metadata", "")).lower() in {"1", "true"}
        found = []
        for message in reversed(self.messages.get(channel, [])):
            if float(message["ts"]) < oldest:
                continue
            shown = {k: v for k, v in message.items() if k != "metadata" or include_metadata}
            found.append(shown)
        return {"ok": True, "messages": found, "has_more": False}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any], _w: Workspace | None) -> dict[str, Any]:  # noqa: N802
        file_id = "F" + secrets.token_hex(5).upper()
        self.uploads[file_id] = {"filename": params.get("filename"), "length": int(params.get("length", 0))}
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, params: dict[str, Any], _w: Workspace | None) -> dict[str, Any]:  # noqa: N802
        files = params.get("files") or []
        done = []
        for item in files:
            upload = self.uploads.get(item.get("id"))
            if upload is None or "data" not in upload:
                raise _SlackError("file_not_found")
            upload["title"] = item.get("title")
            upload["channel_id"] = params.get("channel_id")
            done.append({"id": item["id"], "title": item.get("title"), "name": upload["filename"]})
        channel = params.get("channel_id")
        if channel:
            self.messages[self._channel_for(str(channel))].append(
                {"ts": self._next_ts(), "text": params.get("initial_comment", ""), "files": done}
            )
        return {"ok": True, "files": done}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self.sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": len(self.sockets)})
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                ack = json.loads(message.data)
                self.socket_acks.append(ack)
                self.calls.append(Call(method="(socket ack)", params=ack, token=None))
        self.sockets.remove(socket)
        return socket

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        upload = self.uploads.get(file_id)
        self.calls.append(Call(method="(upload)", params={"file_id": file_id}, token=None))
        if upload is None:
            return web.Response(status=404, text="unknown upload")
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            part = await reader.next()
            data = await part.read() if part is not None and hasattr(part, "read") else b""
        else:
            data = await request.read()
        upload["data"] = bytes(data)
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")


class _SlackError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@pytest.fixture
async def slack_api() -> AsyncIterator[SlackApiSimulator]:
    """A started simulator with the default workspace (T0001, token xoxb-test); stopped after the test."""
    simulator = SlackApiSimulator()
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()

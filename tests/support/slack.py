"""Builders for tests that reach vipbot through Slack: the service configured against the Slack Web API simulator
(tests/doubles/slack_api.py), an organisation linked to the simulator's workspace, channels the bot is in, and the
app served on a free loopback port.

    running = await start_service(slack_services(services, slack_api, scheduler=False), FEATURES)
    org = await linked_org(running.services)
    ...
    await stop_service(running)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from bot.app import Services, build_app
from bot.domain.tenancy import Organisation
from bot.security.secret import Secret
from bot.storage.slack_installations import SqlSlackInstallations
from tests.doubles.slack_api import DEFAULT_TEAM, SlackApiSimulator

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
_SECRETS = {"slack_bot_token", "slack_client_secret", "slack_app_token"}

Feature = Callable[[web.Application, Services], None]


def sign(body: bytes, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    """Slack's v0 signature: HMAC-SHA256 over "v0:{timestamp}:{body}", hex, prefixed "v0="."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes, content_type: str, *, age: int = 0, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    timestamp = int(time.time()) - age
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": sign(body, timestamp, secret),
    }


def block_action(user: str, action_id: str, value: str, channel: str, ts: str) -> tuple[bytes, str]:
    """The body Slack posts when `user` clicks a button (`action_id`, `value`) under the message `ts` in
    `channel` of the simulator's workspace, and its content type; sign it with `signed_headers`."""
    payload = {
        "type": "block_actions",
        "team": {"id": DEFAULT_TEAM, "domain": "acme"},
        "user": {"id": user, "team_id": DEFAULT_TEAM},
        "api_app_id": "A0SIM",
        "token": "legacy-verification-token",
        "container": {"type": "message", "channel_id": channel, "message_ts": ts, "is_ephemeral": False},
        "channel": {"id": channel},
        "trigger_id": "1.2.3",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "type": "button",
                "value": value,
                "text": {"type": "plain_text", "text": "x"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"


def slack_services(
    services: Services, simulator: SlackApiSimulator, *, scheduler: bool = True, **slack: str
) -> Services:
    """`services` with Slack configured against the simulator (single workspace unless told otherwise);
    `scheduler=False` keeps the outreach scheduler and its worker from starting with the app (the test drains
    the outbox itself)."""
    values: dict[str, Any] = {
        "slack_signing_secret": SecretStr(SIGNING_SECRET),
        "slack_api_url": simulator.api_url,
    }
    for key, value in slack.items():
        values[key] = SecretStr(value) if key in _SECRETS else value
    if not scheduler:
        values["scheduler_enabled"] = False
    settings = services.settings.model_copy(update=values)
    return Services(settings=settings, clock=services.clock, engine=services.engine, content=services.content)


async def add_org(services: Services, name: str, slug: str, locale: str = "nl") -> Organisation:
    return await services.organisations.add_organisation(name, slug, "Europe/Amsterdam", locale, 90)


async def link_workspace(services: Services, org: Organisation, team: str = DEFAULT_TEAM) -> None:
    """Install the bot for `org` in the simulator's workspace `team` (as `vipbot slack link` does)."""
    key = services.settings.secret_key
    assert key is not None, "the settings need a secret key"
    await SqlSlackInstallations(services.sessions, Secret(key.get_secret_value().encode())).link(org.id, team)


async def linked_org(
    services: Services, name: str = "Acme Zorg", slug: str = "acme", locale: str = "nl"
) -> Organisation:
    """An organisation whose Slack workspace is the simulator's default one."""
    org = await add_org(services, name, slug, locale)
    await link_workspace(services, org)
    return org


def bot_channel(simulator: SlackApiSimulator, channel: str, name: str) -> None:
    """A channel in the simulator's workspace with the bot in it."""
    simulator.add_channel(channel, name)
    simulator.channels[channel]["is_member"] = True


@dataclass
class RunningService:
    server: TestServer
    session: aiohttp.ClientSession
    services: Services

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def post_signed(
        self, body_and_type: tuple[bytes, str], *, age: int = 0, secret: str = SIGNING_SECRET
    ) -> aiohttp.ClientResponse:
        body, content_type = body_and_type
        headers = signed_headers(body, content_type, age=age, secret=secret)
        return await self.session.post(f"{self.url}/slack/events", data=body, headers=headers)


async def start_service(
    services: Services,
    features: Sequence[Feature] | None = None,
    *,
    access_log_class: Any = None,
    cookies: bool = False,
) -> RunningService:
    """The app with `features` (the Slack adapter alone by default; `bot.app.feature_installers()` for all of
    them, as `vipbot serve` has) on a free loopback port, and a client session for it."""
    from bot.adapters.slack import install

    app: web.Application = build_app(services, features=[install] if features is None else list(features))
    server = TestServer(app, host="127.0.0.1", port=0)
    if access_log_class is None:
        await server.start_server()
    else:
        await server.start_server(access_log_class=access_log_class)
    jar = aiohttp.CookieJar(unsafe=True) if cookies else None
    return RunningService(server=server, session=aiohttp.ClientSession(cookie_jar=jar), services=services)


async def stop_service(running: RunningService) -> None:
    await running.session.close()
    await running.server.close()

"""Helpers of the Slack adapter tests: Slack's request signing, payload builders, a running service."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from bot.app import Services, build_app
from bot.domain.tenancy import Organisation
from tests.doubles.slack_api import SlackApiSimulator
from tests.support.waiting import eventually  # noqa: F401  (the one polling helper, re-exported)

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def sign(body: bytes, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    """Slack's v0 signature: HMAC-SHA256 over "v0:{timestamp}:{body}", hex, prefixed "v0="."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def event_body(team: str, event: dict[str, Any], *, api_app: str = "A0SIM") -> tuple[bytes, str]:
    body = {
        "token": "legacy-verification-token",
        "team_id": team,
        "api_app_id": api_app,
        "event": {"event_ts": f"{time.time():.6f}", **event},
        "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": f"UB{team}", "is_bot": True}],
    }
    return json.dumps(body).encode(), "application/json"


def command_body(team: str, user: str, text: str = "", *, channel: str = "C0GENERAL") -> tuple[bytes, str]:
    form = {
        "token": "legacy-verification-token",
        "team_id": team,
        "team_domain": "acme",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": "someone",
        "command": "/vp",
        "text": text,
        "api_app_id": "A0SIM",
        "response_url": "https://hooks.slack.test/commands/1/2/3",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    }
    return urlencode(form).encode(), "application/x-www-form-urlencoded"


def action_body(team: str, user: str, action_id: str = "vp_door_open") -> tuple[bytes, str]:
    payload = {
        "type": "block_actions",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": user, "team_id": team},
        "api_app_id": "A0SIM",
        "token": "legacy-verification-token",
        "container": {"type": "view", "view_id": "V1"},
        "trigger_id": "1.2.3",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "type": "button",
                "text": {"type": "plain_text", "text": "x"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"


def signed_headers(
    body: bytes, content_type: str, *, age: int = 0, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    timestamp = int(time.time()) - age
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": sign(body, timestamp, secret),
    }


def slack_services(services: Services, simulator: SlackApiSimulator, **slack: str) -> Services:
    """`services` with Slack configured against the simulator (single workspace unless told otherwise)."""
    values: dict[str, Any] = {
        "slack_signing_secret": SecretStr(SIGNING_SECRET),
        "slack_api_url": simulator.api_url,
    }
    for key, value in slack.items():
        values[key] = (
            SecretStr(value)
            if key in {"slack_bot_token", "slack_client_secret", "slack_app_token"}
            else value
        )
    settings = services.settings.model_copy(update=values)
    return Services(settings=settings, clock=services.clock, engine=services.engine, content=services.content)


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


async def start_service(services: Services) -> RunningService:
    from bot.adapters.slack import install

    app: web.Application = build_app(services, features=[install])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return RunningService(server=server, session=aiohttp.ClientSession(), services=services)


async def stop_service(running: RunningService) -> None:
    await running.session.close()
    await running.server.close()


def sqlite_file_bytes(database_url: str) -> bytes:
    """The SQLite database file with its write-ahead log and journal, as they are on disk."""
    path = Path(database_url.split("///", 1)[1])
    files = [path, Path(f"{path}-wal"), Path(f"{path}-journal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


async def add_org(services: Services, name: str, slug: str, locale: str = "nl") -> Organisation:
    return await services.organisations.add_organisation(name, slug, "Europe/Amsterdam", locale, 90)

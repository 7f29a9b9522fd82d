"""Helpers of the Teams tests: activities as Teams sends them, a running service, log capture."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import inspect, text

from bot.adapters.teams import install
from bot.app import Services, build_app
from bot.domain.tenancy import Organisation
from bot.logs import configure_logging
from tests.doubles.card_check import InvokeAnswers
from tests.support.waiting import eventually  # noqa: F401  (the one polling helper, re-exported)

TENANT = "tenant-0001"
OTHER_TENANT = "tenant-0002"
BOT_ID = "28:vipbot-app-id"
USER_ID = "29:user-aad-0001"
PERSONAL_CHAT = "a:personal-chat-0001"
TEAM_ID = "19:team-general@thread.tacv2"
CHANNEL_ID = "19:team-general@thread.tacv2"


def activity(
    service_url: str, kind: str, scope: str = "personal", tenant: str = TENANT, **extra: Any
) -> dict[str, Any]:
    """An activity shaped like the ones Teams posts to a bot."""
    conversation: dict[str, Any] = {"conversationType": scope, "tenantId": tenant}
    channel_data: dict[str, Any] = {"tenant": {"id": tenant}}
    if scope == "personal":
        conversation["id"] = PERSONAL_CHAT
    else:
        conversation["id"] = CHANNEL_ID
        conversation["isGroup"] = True
        channel_data["team"] = {"id": TEAM_ID, "name": "Team Zorg"}
        channel_data["channel"] = {"id": CHANNEL_ID, "name": "General"}
    body: dict[str, Any] = {
        "type": kind,
        "id": f"activity-in-{abs(hash((kind, scope, str(extra)))) % 10**8}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "timestamp": "2026-03-02T08:00:00.000Z",
        "from": {"id": USER_ID, "aadObjectId": "00000000-0000-0000-0000-000000000001"},
        "recipient": {"id": BOT_ID, "name": "vipbot"},
        "conversation": conversation,
        "channelData": channel_data,
        "locale": "nl-NL",
    }
    body.update(extra)
    return body


def cards_of(activities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a["content"] for act in activities for a in act.get("attachments") or []]


def card_text(content: dict[str, Any]) -> str:
    """Every text of a card (body and action titles) as a reader sees it, for assertions."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "title"):
                if isinstance(node.get(key), str):
                    found.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(content)
    return "\n".join(found).replace("\u2060", "")  # the invisible joiner that keeps "<" and "&" literal


def open_urls(content: dict[str, Any]) -> list[str]:
    return [a["url"] for a in content.get("actions", []) if a["type"] == "Action.OpenUrl"]


async def connect(services: Services, tenant: str = TENANT, slug: str = "zorg") -> Organisation:
    org = await services.organisations.add_organisation("Zorg & Welzijn", slug, "Europe/Amsterdam", "nl", 90)
    from bot.adapters.teams import reference_store

    await reference_store(services).connect_tenant(org.id, tenant)
    return org


@asynccontextmanager
async def running(services: Services) -> AsyncIterator[str]:
    """The service with the Teams feature, listening on 127.0.0.1 (port chosen by the OS); yields its base URL.
    Every card it answers an invoke with is checked with `adaptivecards` afterwards, as the connector double
    checks every card sent to it."""
    app = build_app(services, [install])
    answers = InvokeAnswers()
    app.middlewares.append(answers.middleware)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
    answers.check()


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the service logs (at DEBUG, through the real formatter), restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


async def database_text(services: Services) -> str:
    """Every row of every table, as text (both backends)."""
    async with services.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        dump = []
        for table in tables:
            rows = (await connection.execute(text(f'SELECT * FROM "{table}"'))).all()  # noqa: S608
            dump.append(f"{table}: {rows!r}")
    return "\n".join(dump)


@asynccontextmanager
async def serving(
    services: Services, features: list[Callable[[web.Application, Services], None]]
) -> AsyncIterator[tuple[TestServer, aiohttp.ClientSession]]:
    """The service with these features on 127.0.0.1 (port chosen by the OS), and a client session for it. Every
    card it answers an invoke with is checked with `adaptivecards` afterwards."""
    app = build_app(services, features=features)
    answers = InvokeAnswers()
    app.middlewares.append(answers.middleware)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    http = aiohttp.ClientSession()
    try:
        yield server, http
    finally:
        await http.close()
        await server.close()
    answers.check()


async def install_in_chat_and_channel(
    post: Callable[[dict[str, Any]], Awaitable[Any]],
    connector_url: str,
    services: Services,
    organisation: Organisation,
    group: str,
) -> None:
    """Teams installs the bot in the person's personal chat and in the team's channel; the channel is bound to
    `group`, as `vipbot org bind` does."""
    from bot.adapters.teams import reference_store
    from bot.domain.tenancy import Platform
    from bot.storage.teams_references import TeamsScope

    await post(activity(connector_url, "conversationUpdate", membersAdded=[{"id": BOT_ID}]))
    await post(activity(connector_url, "conversationUpdate", scope="channel", membersAdded=[{"id": BOT_ID}]))
    (channel,) = await reference_store(services).list_references(organisation.id, TeamsScope.CHANNEL)
    await services.organisations.bind_channel(
        organisation.id, group, Platform.TEAMS, TENANT, channel.address, "Algemeen"
    )

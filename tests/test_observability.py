"""Access log and metrics keep no trace of portal and inbox actions (no per-request times, no live counters)."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest

from bot.app import Services, build_app
from bot.web import console
from bot.web.observability import AccessLogger
from bot.web.portal.limits import PortalLimits, solve
from bot.web.portal.routes import build_portal_app
from tests.portal.support import practice
from tests.portal.test_portal_web import hidden


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_no_access_line_and_no_metric_for_the_portal_and_the_inbox(services: Services) -> None:
    await practice(services)

    def portal(app: web.Application, svc: Services) -> None:
        app.add_subapp("/portal", build_portal_app(svc, PortalLimits(pow_bits=4)))

    logger = logging.getLogger("test.access")
    logger.setLevel(logging.INFO)
    lines = Lines()
    logger.addHandler(lines)
    app = build_app(services, [console.install, portal])
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(access_log_class=AccessLogger, access_log=logger)
    try:
        async with TestClient(server) as client:
            assert (await client.get("/healthz")).status == 200
            html = await (await client.get("/portal/de-linde/start")).text()
            challenge = hidden(html, "pow_challenge")
            started = await client.post(
                "/portal/de-linde/start",
                data={
                    "csrf_token": hidden(html, "csrf_token"),
                    "pow_challenge": challenge,
                    "pow_answer": solve(challenge, 4),
                    "mode": "anonymous",
                    "text": "Hallo",
                },
            )
            assert started.status == 200
            await client.get("/console/o/de-linde/inbox", allow_redirects=False)
            await client.post("/slack/events", data=b"{}")
    finally:
        logger.removeHandler(lines)
    routes = [str(getattr(r, "route", "")) for r in lines.records]
    assert "/healthz" in routes  # the logger writes lines: the absence below means something
    assert not [r for r in routes if r.startswith("/portal") or "inbox" in r], routes
    exposed = generate_latest(services.metrics.registry).decode()
    assert 'route="/healthz"' in exposed
    for needle in ("/portal", "inbox", "/slack", "_created"):
        assert needle not in exposed, needle

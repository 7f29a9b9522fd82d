"""`/healthz`, `/metrics`, and the middleware that counts requests and catches what nobody else caught.

`/metrics` is served by its own small application on its own listener (`VIPBOT_METRICS_HOST`/`_PORT`, loopback
by default; `VIPBOT_METRICS=off` turns it off), never beside the portal. Requests to the portal, the inbox and
the Slack and Teams endpoints are not counted per route: a live counter of `POST /portal/{org}/start` or of
pulse clicks tells whoever can read it that someone acted, and when.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.logs import get_logger, log_failure
from bot.metrics import Metrics
from bot.storage.db import ping

log = get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def health_handler(engine: AsyncEngine) -> Handler:
    async def healthz(_request: web.Request) -> web.Response:
        try:
            await ping(engine)
        except Exception:  # any failure of the database makes us unready, whatever its kind
            log_failure(log, "health check: database unreachable")
            return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
        return web.json_response({"status": "ok", "database": "ok"})

    return healthz


def metrics_handler(metrics: Metrics) -> Handler:
    async def handle(_request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(metrics.registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    return handle


def build_metrics_app(metrics: Metrics) -> web.Application:
    """The application of the metrics listener: `/metrics` and nothing else."""
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(metrics))
    return app


# Platform endpoints: every pulse click and button press arrives here.
_UNCOUNTED_PREFIXES = ("/slack/", "/api/messages")


def counted(path: str) -> bool:
    """Whether a request may be counted per route (see the module's note)."""
    return not confidential_path(path) and not path.startswith(_UNCOUNTED_PREFIXES)


def _route_name(request: web.Request) -> str:
    # The route pattern, never the concrete path: paths may carry ids that must not become metric labels.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def observe(metrics: Metrics) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except Exception:
            log_failure(log, "unhandled error", route=_route_name(request), method=request.method)
            return web.json_response({"error": "internal"}, status=500)
        finally:
            if counted(request.path):
                route = _route_name(request)
                metrics.requests.labels(route, request.method, str(status)).inc()
                metrics.latency.labels(route).observe(time.perf_counter() - started)

    return middleware


def confidential_path(path: str) -> bool:
    """The employee's portal and the counsellor's inbox: when someone acted there is itself confidential.

    No access-log line (each carries the time it was written) and no per-route metric is kept for these paths.
    """
    if path == "/portal" or path.startswith("/portal/"):
        return True
    parts = path.split("/")
    if len(parts) < 3 or parts[1] != "console":
        return False
    # /console/inbox, /console/o/{org}/inbox and everything below it, and the old /console/{org}/inbox…
    return (
        parts[2] == "inbox"
        or (len(parts) >= 5 and parts[2] == "o" and parts[4] == "inbox")
        or (len(parts) >= 4 and parts[3] == "inbox")
    )


class AccessLogger(AbstractAccessLogger):
    """Method, route pattern, status and time: no client address, user agent, query string or concrete path.

    Nothing at all for the portal and the inbox (`confidential_path`): a line per request would keep, to the
    microsecond, when an employee or a counsellor acted.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if not self.logger.isEnabledFor(20) or confidential_path(request.path):
            return
        match_info = getattr(request, "match_info", None)
        route = "unmatched"
        if match_info is not None and match_info.route.resource is not None:
            route = match_info.route.resource.canonical
        self.logger.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "status": response.status,
                "ms": round(time * 1000, 1),
            },
        )

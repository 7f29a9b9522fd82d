"""`/healthz`, `/metrics`, and the middleware that counts requests and catches what nobody else caught."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.logs import get_logger, log_failure
from bot.storage.db import ping

log = get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Metrics:
    """The service's own registry: no global state, so several apps (and tests) can live in one process."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram

    @classmethod
    def create(cls) -> Metrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                "vipbot_http_requests",
                "HTTP requests handled",
                ["route", "method", "status"],
                registry=registry,
            ),
            latency=Histogram(
                "vipbot_http_request_seconds",
                "HTTP request latency",
                ["route"],
                registry=registry,
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            ),
        )


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
            route = _route_name(request)
            metrics.requests.labels(route, request.method, str(status)).inc()
            metrics.latency.labels(route).observe(time.perf_counter() - started)

    return middleware


class AccessLogger(AbstractAccessLogger):
    """Method, route pattern, status and time: no client address, user agent, query string or concrete path."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if not self.logger.isEnabledFor(20):
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

"""Error pages: 403, 404, 405 and 500 as localised pages. Exception text never reaches the user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.logs import get_logger, log_failure
from bot.web.shared.templates import TEMPLATES

log = get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_PAGES = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "not_allowed", 413: "too_large"}


def error_pages_middleware() -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            kind = _PAGES.get(exc.status)
            if (
                kind is None
                or TEMPLATES not in request.config_dict
                or "json" in request.headers.get("Accept", "")
            ):
                raise
            return _page(request, exc.status, kind)
        except Exception:
            log_failure(log, "unhandled error in a page handler", route=request.match_info.route.name)
            if TEMPLATES not in request.config_dict:
                raise
            return _page(request, 500, "server_error")

    return middleware


def _page(request: web.Request, status: int, kind: str) -> web.Response:
    templates = request.config_dict[TEMPLATES]
    return templates.render(request, "error.html", status=status, error_kind=kind)

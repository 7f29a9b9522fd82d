"""The host's root: `/` leads a person to the console (or, on the portal's own host name, to the portal), and
`/favicon.ico` answers so that no page costs a 404.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from bot.wiring import Services

FAVICON = Path(__file__).resolve().parent / "shared" / "static" / "favicon.ico"
FAVICON_MAX_AGE = 7 * 24 * 3600


def install(app: web.Application, services: Services) -> None:
    settings = services.settings
    console_host = urlsplit(settings.public_base_url).netloc.lower()
    portal = urlsplit(settings.public_portal_url)
    portal_host = portal.netloc.lower()
    portal_path = (portal.path.rstrip("/") or "") + "/"

    async def root(request: web.Request) -> web.StreamResponse:
        # A portal under its own host name must never send an employee to the console's sign-in page.
        if portal_host != console_host and request.host.lower() == portal_host:
            raise web.HTTPFound(portal_path)
        raise web.HTTPFound("/console/")

    async def favicon(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(
            FAVICON,
            headers={"Content-Type": "image/x-icon", "Cache-Control": f"public, max-age={FAVICON_MAX_AGE}"},
        )

    app.router.add_get("/", root, name="root")
    app.router.add_get("/favicon.ico", favicon, name="favicon")

"""`/photos/<token>.jpg`: the counsellors' photos, for Slack Home, the Teams welcome card and the console.

Public on purpose (Slack and Teams fetch the image without signing in), but only under the random token that
the counsellor's `photo_url` carries: the address names nobody and cannot be guessed from a counsellor's id.
A new upload gets a new token, so the photo behind an address never changes and may be cached for long.
"""

from __future__ import annotations

import re

from aiohttp import web

from bot.storage.practice import SqlPracticeStore
from bot.usecases.profile import PHOTO_PATH
from bot.wiring import Services

TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_AGE = 30 * 24 * 3600


def install(app: web.Application, services: Services) -> None:
    store = SqlPracticeStore(services.sessions)

    async def photo(request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if not TOKEN.match(token):
            raise web.HTTPNotFound()
        found = await store.photo(token)
        if found is None:
            raise web.HTTPNotFound()
        image, content_type = found
        return web.Response(
            body=image,
            content_type=content_type,
            headers={
                "Cache-Control": f"public, max-age={MAX_AGE}, immutable",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'",
                "Cross-Origin-Resource-Policy": "cross-origin",
            },
        )

    app.router.add_get(PHOTO_PATH + "{token}.jpg", photo, name="counsellor_photo")

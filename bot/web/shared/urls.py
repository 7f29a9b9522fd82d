"""The path of a named route: the one way pages and handlers build links to each other."""

from __future__ import annotations

from aiohttp import web


def url_for(request: web.Request, name: str, **parts: str) -> str:
    """The path of route `name` of the application that answers `request`, with its variable parts filled in."""
    return str(request.app.router[name].url_for(**parts))

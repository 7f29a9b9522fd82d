"""The monthly column digest in the console: last month's digest as Slack and Teams would show it.

The post is built by the same factory the outbox uses (`What.DIGEST`) and drawn by the same renderer registries,
so the preview is what a schedule with "what: digest" sends.
"""

from __future__ import annotations

from uuid import uuid4

from aiohttp import web

from bot.domain.accounts import Role
from bot.domain.content import pick_locale
from bot.domain.outreach import Occurrence, What
from bot.web.console.auth import console_of, organisation_for
from bot.web.console.outreach_bridge import outreach_of
from bot.web.console.preview import preview
from bot.web.shared.templates import render, request_locale


async def digest_page(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    console = console_of(request)
    services = console.services
    now = console.now()
    locale = pick_locale(request.query.get("preview") or request_locale(request))
    occurrence = Occurrence(uuid4(), organisation.id, None, now, now, What.DIGEST, None, locale)
    post = await outreach_of(services).posts.build(occurrence)
    return render(
        request,
        "digest.html",
        account=account,
        organisation=organisation,
        page="digest",
        preview_locale=locale,
        previews=None if post is None else preview(post, locale, services.platforms),
    )


def register(console: web.Application) -> None:
    console.router.add_get("/o/{org}/digest", digest_page, name="digest")

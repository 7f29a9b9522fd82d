"""The web console for counsellors and management, mounted at /console.

API note:
- `install(app, services)` mounts the console as an aiohttp sub-application at `/console` with the shared
  middlewares (security headers, error pages, CSRF) and the console's session middleware.
- Every page module adds its routes in `build_console` (`add_routes(console)` or `register(console)`), so they
  sit under `/console/…`, get sign-in and CSRF, and render with the console's templates (extend
  `console_base.html`). An organisation's menu is `ORGANISATION_PAGES` (route name, label key). Handlers use
  `auth.require(...)` / `auth.organisation_for(...)` and `shared.render(...)`.
- Route names (for `request.app.router[name].url_for(...)`): home, login, logout, organisation, content, …
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path

from aiohttp import web
from markupsafe import Markup

from bot.cache import Lru
from bot.errors import ConfigError
from bot.web.console.auth import CONSOLE, make_console, session_middleware
from bot.web.console.waiting import waiting_count, waiting_middleware
from bot.web.shared import TEMPLATES, Templates, add_static, is_secure, middlewares
from bot.wiring import Services

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
CONSOLE_PREFIX = "/console"
CONDUCT_ROUTE = "/conduct/{token}"  # an organisation's uploaded code of conduct, for employees: no sign-in


def secret_key_bytes(services: Services) -> bytes:
    key = services.settings.secret_key
    if key is None:
        raise ConfigError("VIPBOT_SECRET_KEY", "the console needs a secret key")
    return key.get_secret_value().encode("utf-8")


def build_console(services: Services) -> web.Application:
    from bot.web.console import (
        inbox,
        inbox_calls,
        pages_audit,
        pages_auth,
        pages_content,
        pages_digest,
        pages_insights,
        pages_main,
        pages_profile,
        pages_pulses,
        pages_schedule,
        pages_sessions,
        pages_settings,
    )

    secret = secret_key_bytes(services)
    secure = is_secure(services.settings)
    console = web.Application(
        middlewares=[*middlewares(services.settings, secret), session_middleware(), waiting_middleware()]
    )
    console[TEMPLATES] = Templates(TEMPLATE_DIR, translator=services.content.translator)
    console[CONSOLE] = make_console(services, secret, secure)
    add_static(console)
    pages_auth.add_routes(console)
    pages_main.add_routes(console)
    pages_content.add_routes(console)
    _add_library(console)
    pages_schedule.add_routes(console)
    pages_sessions.add_routes(console)
    pages_insights.add_routes(console)
    pages_profile.add_routes(console)
    pages_settings.add_routes(console)
    pages_pulses.add_routes(console)
    pages_audit.add_routes(console)
    inbox.register(console)
    inbox_calls.register(console)  # files and calls in the inbox's conversations
    pages_digest.register(console)
    _template_globals(console)
    return console


ORGANISATION_PAGES = (
    ("inbox", "console.inbox.nav"),  # the conversations first
    ("digest", "console.nav.digest"),
    ("content", "console.nav.content"),
    ("calendar", "console.nav.calendar"),
    ("sessions", "console.nav.sessions"),
    ("pulses", "console.pulses.nav"),
    ("insights", "console.nav.insights"),
    ("report", "console.nav.report"),
    ("org_settings", "console.nav.settings"),
)


def _template_globals(console: web.Application) -> None:
    named = console.router.named_resources()

    def has_route(name: str) -> bool:
        return name in named

    def org_nav(_account: object) -> list[tuple[str, str]]:
        return [(name, label) for name, label in ORGANISATION_PAGES if name in named]

    blocks: Lru[Markup] = Lru(MENUS_KEPT)

    def remembered(*key: Hashable, caller: Callable[[], str]) -> Markup:
        """`{% call remembered(…everything the block shows…) %}…{% endcall %}`: the block rendered once per key.
        For the console's menu, which is the same on every view for one role, organisation, page, count and
        language (a tenth of a page's rendering)."""
        found = blocks.get(key)
        if found is None:
            found = blocks.put(key, Markup(caller()))  # noqa: S704 - rendered autoescaped by the template
        return found

    console[TEMPLATES].env.globals.update(
        has_route=has_route, org_nav=org_nav, waiting_count=waiting_count, remembered=remembered
    )


#: Rendered menus kept per console (roles × organisations × pages × counts × languages in use).
MENUS_KEPT = 1024


def install(app: web.Application, services: Services) -> None:
    app.add_subapp(CONSOLE_PREFIX, build_console(services))
    from bot.web.console.pages_library import public_document

    app.router.add_get(CONDUCT_ROUTE, public_document(services), name="conduct_document")

    async def link_outreach(_app: web.Application) -> None:
        # After every feature is installed: console-written items become postable by the outbox worker.
        from bot.web.console.outreach_bridge import outreach_of

        outreach_of(services)

    app.on_startup.append(link_outreach)


def _add_library(console: web.Application) -> None:
    """The channel pickers' cache, the practice-wide library and the organisations' codes of conduct."""
    from bot.web.console import channels, pages_library

    channels.register(console)
    pages_library.add_routes(console)

"""Pieces shared by the server-rendered web parts (the console and the portal).

API note:
- `templates.Templates(folder, …, translator=…)`: a jinja2 environment (autoescape on) over your feature's
  template folder plus `bot/web/shared/templates` (which holds `base.html` and `error.html`). Put it on your
  (sub)application with `app[TEMPLATES] = …`, then `render(request, "page.html", **context)` answers a page.
  Every template sees `t(key, **params)` (the Translator bound to the request's locale), `locale`,
  `csrf_field()` (the hidden input for forms), `csrf_token`, `static(path)`, `lang_url(code)` and `request`.
- `Templates.fragment(request, "part.html", **context)` renders a part once for many browsers (CSRF fields get a
  placeholder); `fragment.fill(request)` puts in this browser's token. For content equal for all who may see it.
- `templates.request_locale(request)`: Dutch unless `?lang=en` (remembered in a cookie) or the signed-in
  account's preference says English.
- `csrf.csrf_middleware(secret_key, secure=…)`: refuses every POST/PUT/PATCH/DELETE without a valid token
  (form field `csrf_token` or header `X-CSRF-Token`) with 403, and a foreign `Origin` too. The token is an HMAC
  of a random per-browser value in an HttpOnly, SameSite=Strict cookie (signed double-submit), so it works for
  anonymous pages as well. `csrf.rotate_csrf(request, response)` gives the browser a new value (at sign-in).
- `headers.security_headers_middleware(secure=…)`: CSP without inline scripts or styles,
  `frame-ancestors 'none'`, `Referrer-Policy: no-referrer`, nosniff, `Cache-Control: no-store` on pages,
  HSTS behind https.
- `errors.error_pages_middleware()`: 403/404/405/500 as localised pages; exception text never reaches the user.
- `add_static(app)`: the shared CSS and JS under `<app prefix>/static/` (route name `static`).
- `cookies.cookie_name(base, secure)`: `__Host-` prefixed names behind https.

A typical sub-application::

    sub = web.Application(middlewares=middlewares(settings, secret_key))
    sub[TEMPLATES] = Templates(MY_TEMPLATES, translator=services.content.translator)
    add_static(sub)
    app.add_subapp("/portal", sub)
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.settings import Settings
from bot.web.shared.csrf import csrf_middleware
from bot.web.shared.errors import error_pages_middleware
from bot.web.shared.headers import security_headers_middleware
from bot.web.shared.templates import TEMPLATES, Templates, render, request_locale

STATIC_DIR = Path(__file__).resolve().parent / "static"

__all__ = [
    "STATIC_DIR",
    "TEMPLATES",
    "Templates",
    "add_static",
    "is_secure",
    "middlewares",
    "render",
    "request_locale",
]


def is_secure(settings: Settings) -> bool:
    """Cookies get `Secure` (and `__Host-` names) when the service is reached over https."""
    return settings.public_base_url.startswith("https://")


def middlewares(settings: Settings, secret_key: bytes) -> list[Middleware]:
    """The standard stack for a server-rendered sub-application, outermost first."""
    secure = is_secure(settings)
    return [
        security_headers_middleware(secure=secure),
        error_pages_middleware(),
        csrf_middleware(secret_key, secure=secure),
    ]


def add_static(app: web.Application) -> None:
    app.router.add_static("/static/", STATIC_DIR, name="static", append_version=True)

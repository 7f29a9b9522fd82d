"""The jinja2 template environment: autoescaped, translated, with the CSRF field at hand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from markupsafe import Markup

from bot.domain.content import DEFAULT_LOCALE, LOCALES, pick_locale
from bot.domain.i18n import Translator
from bot.web.shared.csrf import csrf_token

SHARED_TEMPLATES = Path(__file__).resolve().parent / "templates"
LANG_COOKIE = "vipbot_lang"
LANG_PARAM = "lang"
_LOCALE = web.RequestKey("vipbot_locale", str)
#: Set by a sign-in layer (the console) to the signed-in person's language; used when no choice was made.
LOCALE_PREFERENCE = web.RequestKey("vipbot_locale_preference", str)


class _CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates kept in memory for the life of the process, shared by every `Templates`.

    Each sub-application has its own environment, and a process that builds the application more than once (the
    test suite builds one per test) would otherwise parse and compile every template again: about 30 ms of CPU a
    template. Jinja checks each entry against its template's source (a checksum), so a changed file compiles
    afresh; every environment here has the same options, so their compiled code is the same.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


class Templates:
    """One environment per sub-application: the feature's folder first, then the shared one."""

    def __init__(self, *folders: Path, translator: Translator) -> None:
        self.translator = translator
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([*folders, SHARED_TEMPLATES]),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
            bytecode_cache=_COMPILED,
        )
        self.env.filters["localtime"] = localtime
        self._static_urls: dict[tuple[int, str], str] = {}

    def _globals(self, request: web.Request, *, token: str) -> dict[str, Any]:
        locale = request_locale(request)
        translator = self.translator

        def t(key: str, /, **params: object) -> str:
            return translator.t(locale, key, **params)

        def static(path: str) -> str:
            # aiohttp hashes the file for its version suffix on every call: remember the URL per application.
            key = (id(request.app), path)
            found = self._static_urls.get(key)
            if found is None:
                try:
                    found = str(request.app.router["static"].url_for(filename=path))
                except KeyError:
                    found = "/static/" + path
                self._static_urls[key] = found
            return found

        def lang_url(code: str) -> str:
            query = {k: v for k, v in request.query.items() if k != LANG_PARAM}
            query[LANG_PARAM] = code
            return f"{request.path}?{urlencode(query)}"

        field = Markup('<input type="hidden" name="csrf_token" value="{}">').format(token)
        return {
            "t": t,
            "locale": locale,
            "locales": LOCALES,
            "csrf_field": lambda: field,
            "csrf_token": token,
            "static": static,
            "lang_url": lang_url,
            "request": request,
        }

    def render(
        self, request: web.Request, template: str, /, *, status: int = 200, **context: Any
    ) -> web.Response:
        html = self.env.get_template(template).render(
            **self._globals(request, token=csrf_token(request)), **context
        )
        response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
        chosen = request.query.get(LANG_PARAM)
        if chosen in LOCALES and request.cookies.get(LANG_COOKIE) != chosen:
            response.set_cookie(
                LANG_COOKIE, chosen, path="/", httponly=True, samesite="Lax", max_age=31536000
            )
        return response

    def fragment(self, request: web.Request, template: str, /, **context: Any) -> Fragment:
        """Render a part of a page once for many browsers: its CSRF fields hold a placeholder that
        `Fragment.fill(request)` replaces with the browser's own token. Only for content that is the same for
        everyone who may see it."""
        return Fragment(
            self.env.get_template(template).render(**self._globals(request, token=_PLACEHOLDER), **context)
        )


_PLACEHOLDER = "__csrf_token_placeholder__"


@dataclass(frozen=True, slots=True)
class Fragment:
    html: str

    def fill(self, request: web.Request) -> Markup:
        return Markup(self.html.replace(_PLACEHOLDER, csrf_token(request)))  # noqa: S704 - rendered autoescaped


TEMPLATES = web.AppKey("templates", Templates)


def localtime(
    moment: datetime | None, timezone: str = "Europe/Amsterdam", fmt: str = "%Y-%m-%d %H:%M"
) -> str:
    """A stored UTC moment as local time of an organisation (naive values are taken as UTC)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone)).strftime(fmt)


def request_locale(request: web.Request) -> str:
    """`?lang=` first, then the language cookie, then the signed-in person's preference; Dutch by default."""
    if _LOCALE in request:
        return request[_LOCALE]
    chosen = request.query.get(LANG_PARAM) or request.cookies.get(LANG_COOKIE)
    if chosen not in LOCALES:
        chosen = request.get(LOCALE_PREFERENCE) or DEFAULT_LOCALE
    locale = pick_locale(chosen)
    request[_LOCALE] = locale
    return locale


def render(request: web.Request, template: str, /, *, status: int = 200, **context: Any) -> web.Response:
    """Render `template` with the Templates of the sub-application that serves this request."""
    return request.config_dict[TEMPLATES].render(request, template, status=status, **context)


def translate(request: web.Request) -> Callable[..., str]:
    """`t(key, **params)` for handler code (flash messages, PDF text) in the request's locale."""
    translator = request.config_dict[TEMPLATES].translator
    locale = request_locale(request)

    def t(key: str, /, **params: object) -> str:
        return translator.t(locale, key, **params)

    return t


def markup(html: str) -> Markup:
    """Mark server-built, already escaped HTML (e.g. an SVG chart) as safe for templates."""
    return Markup(html)  # noqa: S704 - callers build it from escaped parts

"""CSRF protection for every unsafe method: a signed double-submit token plus an Origin check.

The browser holds a random value in an HttpOnly, SameSite=Strict cookie; the token in forms is
HMAC-SHA256(key, value). A page on another site can neither read the cookie nor compute the token, and
SameSite=Strict keeps the cookie off cross-site requests anyway. The console rotates the value at sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from markupsafe import Markup, escape

from bot.web.shared.cookies import cookie_name

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
_NONCE = web.RequestKey("csrf_nonce", str)
_NEW_NONCE = web.RequestKey("csrf_new_nonce", str)
_KEY = web.RequestKey("csrf_key", bytes)


def _token(key: bytes, nonce: str) -> str:
    digest = hmac.new(key, b"vipbot/csrf/v1|" + nonce.encode("ascii", "replace"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def csrf_token(request: web.Request) -> str:
    """The token for forms on this page (a new cookie is set with the response when the browser had none)."""
    nonce = request.get(_NEW_NONCE) or request.get(_NONCE)
    if nonce is None:
        nonce = secrets.token_urlsafe(32)
        request[_NEW_NONCE] = nonce
    return _token(request[_KEY], nonce)


def csrf_field(request: web.Request) -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, escape(csrf_token(request)))


def rotate_csrf(request: web.Request) -> None:
    """Give the browser a new CSRF value with this response (the old tokens stop working)."""
    request[_NEW_NONCE] = secrets.token_urlsafe(32)


def _same_origin(request: web.Request) -> bool:
    """False when the browser tells us the request comes from another site.

    `Sec-Fetch-Site` (sent by every current browser) is decisive when present. `Origin` is compared with the
    Host otherwise; with `Referrer-Policy: no-referrer` browsers send `Origin: null` on same-origin form posts,
    so "null" and an absent Origin leave the decision to the token.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in {"same-origin", "none"}:
        return False
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True
    host = request.headers.get("Host", request.host)
    return origin.split("://", 1)[-1].rstrip("/") == host


def csrf_middleware(secret_key: bytes, *, secure: bool) -> Middleware:
    name = cookie_name("vipbot_csrf", secure)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[_KEY] = secret_key
        nonce = request.cookies.get(name)
        if nonce:
            request[_NONCE] = nonce
        if request.method not in SAFE_METHODS:
            await _check(request, nonce, secret_key)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            _set_cookie(request, exc, name, secure)
            raise
        _set_cookie(request, response, name, secure)
        return response

    return middleware


async def _check(request: web.Request, nonce: str | None, key: bytes) -> None:
    if not _same_origin(request):
        raise web.HTTPForbidden(reason="cross-origin request refused")
    if not nonce:
        raise web.HTTPForbidden(reason="missing CSRF cookie")
    sent = request.headers.get(HEADER)
    if sent is None and request.content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        form = await request.post()
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(
        sent.encode("ascii", "replace"), _token(key, nonce).encode("ascii")
    ):
        raise web.HTTPForbidden(reason="invalid CSRF token")


def _set_cookie(request: web.Request, response: web.StreamResponse, name: str, secure: bool) -> None:
    new = request.get(_NEW_NONCE)
    if new is not None and not response.prepared:
        response.set_cookie(name, new, path="/", httponly=True, samesite="Strict", secure=secure)

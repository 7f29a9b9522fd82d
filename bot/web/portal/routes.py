"""The portal's pages: `/portal/{organisation}` and below. Server-rendered, works without JavaScript.

The employee's session is a browser-session cookie (no Max-Age: it ends when the browser closes) holding the
receipt code, the conversation id and a session token, encrypted under a key derived from the service's secret.
The token's row in `portal_session` is what "sign out on this device" deletes: a copied cookie stops working.
The code never appears in a URL, a log line or an error; pages are `Cache-Control: no-store`.

Every form that carries text is answered with a redirect to a GET page (POST/redirect/GET, see `drafts`): the
browser's session-restore files then hold no message, pseudonym or code, and a reload shows a calm page.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from aiohttp import web

from bot.domain.conversations import (
    Author,
    ConversationClosedError,
    ConversationNotFoundError,
    DamagedMessageError,
    InvalidTextError,
    Mode,
    NoCounsellorError,
    StaleWriteError,
)
from bot.domain.home import NoSessions
from bot.domain.tenancy import Organisation
from bot.errors import NotFoundError
from bot.logs import get_logger
from bot.security.errors import SecurityError
from bot.security.receipts import normalize_code
from bot.security.secret import Secret
from bot.security.secretbox import SecretBox, derive_key
from bot.storage.home import HomeInfoSource
from bot.storage.portal_sessions import SqlPortalSessions
from bot.usecases.profile import PHOTO_PATH
from bot.web.portal.channel import ConfidentialChannel, master_key
from bot.web.portal.drafts import Draft, Drafts
from bot.web.portal.limits import PortalLimits, ProofOfWork, RateLimiter, extra_bits
from bot.web.shared import TEMPLATES, Templates, add_static, is_secure, middlewares, render
from bot.web.shared.cookies import cookie_name
from bot.web.shared.headers import CONTENT_SECURITY_POLICY
from bot.web.shared.templates import request_locale
from bot.wiring import Services

log = get_logger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATE_DIR = HERE / "templates"
ASSETS_DIR = HERE / "static"
SESSION_PURPOSE = "portal/session"
SESSION_LIFETIME = timedelta(minutes=30)  # idle, inside the cookie
SESSION_ABSOLUTE = timedelta(hours=4)  # at the latest, on the server (rounded up to the hour)
# `?sent=…` after a POST: which calm confirmation the conversation page shows.
DONE_NOTICES = {
    "1": "portal.conversation.sent",
    "file": "portal.files.sent",
    "call": "portal.call.booked",
    "notice": "portal.notice.saved",
    "notice-off": "portal.notice.removed",
}


@dataclass
class Portal:
    channel: ConfidentialChannel
    services: Services
    limits: PortalLimits
    limiter: RateLimiter
    load: RateLimiter  # recent attempts per organisation: what the proof of work's difficulty follows
    pow: ProofOfWork
    box: SecretBox
    cookie: str
    secure: bool
    web_sessions: SqlPortalSessions
    drafts: Drafts


PORTAL = web.AppKey("portal", Portal)


@dataclass(frozen=True, slots=True)
class EmployeeSession:
    organisation_id: UUID
    conversation_id: UUID
    code: Secret[str]
    token: str


def build_portal_app(services: Services, limits: PortalLimits | None = None) -> web.Application:
    settings = services.settings
    master = master_key(settings)
    secure = is_secure(settings)
    limits = limits or PortalLimits(pow_bits=settings.portal_pow_bits)
    app = web.Application(middlewares=middlewares(settings, derive_key(master, "portal/csrf").reveal()))
    app[TEMPLATES] = Templates(TEMPLATE_DIR, translator=services.content.translator)
    app[PORTAL] = Portal(
        channel=ConfidentialChannel(services.engine, settings, services.clock),
        services=services,
        limits=limits,
        limiter=RateLimiter(),
        load=RateLimiter(),
        pow=ProofOfWork(derive_key(master, "portal/pow").reveal(), limits.pow_bits, limits.pow_lifetime_s),
        box=SecretBox(master, SESSION_PURPOSE),
        cookie=cookie_name("vipbot_portal", secure),
        secure=secure,
        web_sessions=SqlPortalSessions(services.engine),
        drafts=Drafts(),
    )
    add_static(app)
    app.router.add_static("/assets/", ASSETS_DIR, name="portal_assets", append_version=True)
    app.router.add_get("/{org}", landing, name="landing")
    app.router.add_get("/{org}/start", start_form, name="start")
    app.router.add_post("/{org}/start", start_submit)
    app.router.add_get("/{org}/code", code_page, name="code")
    app.router.add_get("/{org}/return", return_form, name="comeback")
    app.router.add_post("/{org}/return", return_submit)
    app.router.add_get("/{org}/conversation", conversation_page, name="conversation")
    app.router.add_post("/{org}/conversation", conversation_write)
    app.router.add_get("/{org}/delete", delete_form, name="delete")
    app.router.add_post("/{org}/delete", delete_submit)
    app.router.add_post("/{org}/leave", leave)
    from bot.web.portal.extras import register_extras

    register_extras(app)
    return app


def install(app: web.Application, services: Services) -> None:
    from bot.web.portal.maintenance import install_maintenance

    app.add_subapp("/portal", build_portal_app(services))
    if services.settings.scheduler_enabled:
        install_maintenance(app, services)


# -- helpers -------------------------------------------------------------------------------------------
def _portal(request: web.Request) -> Portal:
    return request.config_dict[PORTAL]


async def _organisation(request: web.Request) -> Organisation:
    try:
        return await _portal(request).services.organisations.get_organisation(request.match_info["org"])
    except NotFoundError:
        raise web.HTTPNotFound() from None


def _url(request: web.Request, name: str, org: Organisation) -> str:
    return str(request.app.router[name].url_for(org=org.slug))


def _asset(request: web.Request, path: str) -> str:
    return str(request.app.router["portal_assets"].url_for(filename=path))


def _page(
    request: web.Request, name: str, org: Organisation, *, status: int = 200, **context: Any
) -> web.Response:
    portal = _portal(request)
    response = render(
        request,
        name,
        status=status,
        org=org,
        url=lambda route: _url(request, route, org),
        asset=lambda path: _asset(request, path),
        **({"pow_bits": portal.pow.bits} | context),
    )
    # The installable web app: its manifest and service worker come from this origin only.
    response.headers["Content-Security-Policy"] = (
        CONTENT_SECURITY_POLICY + "; manifest-src 'self'; worker-src 'self'"
    )
    return response


def _set_session(portal: Portal, response: web.StreamResponse, session: EmployeeSession) -> None:
    expires = int(time.time() + SESSION_LIFETIME.total_seconds())
    data = json.dumps(
        {
            "o": str(session.organisation_id),
            "c": str(session.conversation_id),
            "k": session.code.reveal(),
            "t": session.token,
            "x": expires,
        }
    ).encode()
    value = base64.urlsafe_b64encode(portal.box.encrypt(data, b"employee-session")).decode("ascii")
    response.set_cookie(
        portal.cookie,
        value,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=portal.secure,
    )


def _clear_session(portal: Portal, response: web.StreamResponse) -> None:
    response.del_cookie(portal.cookie, path="/", secure=portal.secure, httponly=True, samesite="Strict")


async def _read_session(request: web.Request, org: Organisation) -> EmployeeSession | None:
    portal = _portal(request)
    raw = request.cookies.get(portal.cookie)
    if not raw:
        return None
    try:
        data = json.loads(
            portal.box.decrypt(base64.urlsafe_b64decode(raw.encode("ascii")), b"employee-session")
        )
        session = EmployeeSession(UUID(data["o"]), UUID(data["c"]), Secret(str(data["k"])), str(data["t"]))
        expired = int(data["x"]) < time.time()
    except (SecurityError, ValueError, KeyError, TypeError):
        return None
    if expired or session.organisation_id != org.id:
        return None
    if not await portal.web_sessions.alive(session.token, org.id, portal.services.clock.now()):
        return None  # signed out on this device, erased, or past its end
    return session


async def _begin_session(portal: Portal, org: Organisation, *, reveal_code: bool = False) -> str:
    now = portal.services.clock.now()
    return await portal.web_sessions.begin(org.id, now, SESSION_ABSOLUTE, reveal_code=reveal_code)


def _again(
    request: web.Request, name: str, org: Organisation, draft: Draft, anchor: str = ""
) -> web.HTTPSeeOther:
    """The refusal of a form, as a redirect to its GET page; what was typed waits in memory for that one GET."""
    token = _portal(request).drafts.keep(draft)
    return web.HTTPSeeOther(_url(request, name, org) + "?d=" + token + anchor)


def _typed(form: dict[str, str], *names: str) -> dict[str, str]:
    return {name: form[name] for name in names if name in form}


async def _form(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _load_key(org: Organisation) -> bytes:
    return b"load:" + org.id.bytes


def _difficulty(portal: Portal, org: Organisation) -> int:
    """The proof of work asked of this organisation's forms now: the base, plus more under load."""
    limits = portal.limits
    recent = portal.load.recent(_load_key(org), limits.pow_load_window_s)
    return portal.pow.bits + extra_bits(recent, limits.pow_load_threshold, limits.pow_extra_bits_max)


def _challenge(portal: Portal, org: Organisation) -> tuple[str, int]:
    bits = _difficulty(portal, org)
    return portal.pow.challenge(bits, org.id.bytes), bits


def _proven(portal: Portal, org: Organisation, form: dict[str, str]) -> bool:
    """A solved challenge of this organisation; or, without JavaScript, a fresh challenge and a place in the
    organisation's small allowance (and the global one)."""
    limits = portal.limits
    portal.load.hit(_load_key(org), 1 << 30, limits.pow_load_window_s)  # every attempt counts as load
    challenge, answer = form.get("pow_challenge", ""), form.get("pow_answer", "")
    if answer:
        return portal.pow.verify(challenge, answer, org.id.bytes)
    if not portal.pow.spend(challenge, org.id.bytes):
        return False
    window = limits.unproven_global_window_s
    return portal.limiter.hit(
        b"unproven:" + org.id.bytes, limits.unproven_per_organisation, window
    ) and portal.limiter.hit(b"unproven", limits.unproven_global, window)


def _allowed(
    portal: Portal, org: Organisation, what: bytes, per_organisation: int, overall: int, window: int
) -> bool:
    """Per organisation first (a flood uses up only its own organisation's allowance), then the machine's cap."""
    return portal.limiter.hit(what + b":" + org.id.bytes, per_organisation, window) and portal.limiter.hit(
        what, overall, window
    )


# -- pages ---------------------------------------------------------------------------------------------
def _own_photo(url: str | None, public_base_url: str) -> str | None:
    """Only a photo served by this service, as a path on the portal's own origin: the portal never makes the
    browser fetch anything from elsewhere. Uploaded photos carry the service's public address (Slack and Teams need
    it whole); the portal keeps just their path."""
    if not url:
        return None
    own = public_base_url.rstrip("/") + PHOTO_PATH
    if public_base_url and url.startswith(own):
        return PHOTO_PATH + url.removeprefix(own)
    return url if url.startswith("/") and not url.startswith("//") else None


async def _people(request: web.Request, org: Organisation) -> dict[str, Any]:
    """The counsellors (photo, introduction, usual reply time) and the organisation's sociale kaart."""
    portal = _portal(request)
    locale = request_locale(request)
    profiles = await portal.channel.store.profiles(org.id)
    # The service's own front-door source when it has one (the organisation's own sociale kaart, cached).
    home = portal.services.home or HomeInfoSource(
        portal.services.sessions, portal.services.content.catalog, NoSessions(), portal.services.clock, ""
    )
    social_map = (await home.for_organisation(org)).social_map
    return {
        "counsellors": [
            {
                "id": str(p.id),
                "name": p.name,
                "deputy": p.deputy,
                "intro": p.intro(locale),
                "photo": _own_photo(p.photo_url, portal.services.settings.public_base_url),
            }
            for p in profiles
        ],
        "reply_days": portal.services.settings.portal_reply_days,
        "social_map": social_map,
    }


async def landing(request: web.Request) -> web.Response:
    org = await _organisation(request)
    people = await _people(request, org)
    signed_in = await _read_session(request, org) is not None
    available = bool(people["counsellors"])
    return _page(request, "portal_landing.html", org, available=available, signed_in=signed_in, **people)


async def start_form(request: web.Request) -> web.Response:
    org = await _organisation(request)
    draft = _portal(request).drafts.take(request.query.get("d"))
    if draft is None:
        return await _start_page(request, org)
    return await _start_page(request, org, status=draft.status, error=draft.error, form=draft.fields)


async def _start_page(
    request: web.Request,
    org: Organisation,
    *,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> web.Response:
    challenge, bits = _challenge(_portal(request), org)
    return _page(
        request,
        "portal_start.html",
        org,
        status=status,
        error=error,
        form=form or {},
        challenge=challenge,
        pow_bits=bits,
        **(await _people(request, org)),
    )


async def start_submit(request: web.Request) -> web.Response:
    org = await _organisation(request)
    portal = _portal(request)
    form = await _form(request)
    typed = _typed(form, "mode", "identity", "text", "counsellor")
    limits = portal.limits
    if not _proven(portal, org, form):
        raise _again(request, "start", org, Draft("portal.error.busy", 429, typed))
    window = limits.starts_global_window_s
    if not _allowed(portal, org, b"starts", limits.starts_per_organisation, limits.starts_global, window):
        raise _again(request, "start", org, Draft("portal.error.busy", 429, typed))
    mode = Mode.PSEUDONYMOUS if form.get("mode") == Mode.PSEUDONYMOUS.value else Mode.ANONYMOUS
    try:
        chosen: UUID | None = UUID(form["counsellor"]) if form.get("counsellor") else None
    except ValueError:
        chosen = None
    try:
        conversation_id, code = await portal.channel.service.start(
            org.id,
            org.retention_days,
            mode,
            form.get("text", ""),
            form.get("identity") or None,
            counsellor_id=chosen,
        )
    except InvalidTextError:
        raise _again(request, "start", org, Draft("portal.error.text", 400, typed)) from None
    except NoCounsellorError:
        raise _again(request, "start", org, Draft("portal.error.unavailable", 503, typed)) from None
    token = await _begin_session(portal, org, reveal_code=True)
    response = web.HTTPSeeOther(_url(request, "code", org))
    _set_session(portal, response, EmployeeSession(org.id, conversation_id, code, token))
    raise response


async def code_page(request: web.Request) -> web.StreamResponse:
    """The receipt code, once, right after the start; a reload goes on to the conversation."""
    org = await _organisation(request)
    portal = _portal(request)
    session = await _read_session(request, org)
    if session is None:
        raise web.HTTPSeeOther(_url(request, "comeback", org))
    if not await portal.web_sessions.take_code_reveal(session.token):
        raise web.HTTPSeeOther(_url(request, "conversation", org))
    code = session.code.reveal()
    return _page(request, "portal_code.html", org, code=code, groups=code.split("-"))


def _return_page(
    request: web.Request, org: Organisation, *, status: int = 200, error: str | None = None, typed: str = ""
) -> web.Response:
    challenge, bits = _challenge(_portal(request), org)
    return _page(
        request,
        "portal_return.html",
        org,
        status=status,
        error=error,
        challenge=challenge,
        pow_bits=bits,
        typed=typed,
    )


async def return_form(request: web.Request) -> web.Response:
    org = await _organisation(request)
    draft = _portal(request).drafts.take(request.query.get("d"))
    if draft is None:
        return _return_page(request, org)
    # What was typed comes back into the field (from memory, for this one page): fix a character, not all 20.
    return _return_page(
        request, org, status=draft.status, error=draft.error, typed=draft.fields.get("code", "")
    )


async def return_submit(request: web.Request) -> web.StreamResponse:
    org = await _organisation(request)
    portal = _portal(request)
    form = await _form(request)
    limits = portal.limits
    typed = form.get("code", "")[:100]
    busy = Draft("portal.error.busy", 429, {"code": typed})
    wrong = Draft("portal.error.code", 400, {"code": typed})
    if not _proven(portal, org, form):
        raise _again(request, "comeback", org, busy)
    window = limits.lookups_global_window_s
    if not _allowed(portal, org, b"lookups", limits.lookups_per_organisation, limits.lookups_global, window):
        raise _again(request, "comeback", org, busy)
    try:
        lookup = portal.channel.crypto.lookup(typed)
    except ConversationNotFoundError:
        raise _again(request, "comeback", org, wrong) from None
    if not portal.limiter.hit(b"code:" + lookup, limits.lookups_per_code, limits.lookups_per_code_window_s):
        raise _again(request, "comeback", org, busy)
    try:
        conversation_id, _key = await portal.channel.service.access(org.id, typed)
    except ConversationNotFoundError:
        raise _again(request, "comeback", org, wrong) from None
    token = await _begin_session(portal, org)
    response = web.HTTPSeeOther(_url(request, "conversation", org))
    _set_session(portal, response, EmployeeSession(org.id, conversation_id, normalize_code(typed), token))
    raise response


async def _thread_page(
    request: web.Request,
    org: Organisation,
    session: EmployeeSession,
    *,
    status: int = 200,
    error: str | None = None,
    draft: str = "",
    notice: str | None = None,
    file_error: str | None = None,
) -> web.StreamResponse:
    portal = _portal(request)
    try:
        conversation_id, key = await portal.channel.service.access(org.id, session.code)
        thread = await portal.channel.service.read(org.id, conversation_id, key, Author.EMPLOYEE)
    except ConversationNotFoundError:
        response = _return_page(request, org, status=404, error="portal.error.gone")
        _clear_session(portal, response)
        return response
    except DamagedMessageError:
        log.warning("portal: a conversation did not open (damaged or tampered)")
        return _page(request, "portal_damaged.html", org, status=500)
    from bot.web.portal.extras import thread_extras

    response = _page(
        request,
        "portal_conversation.html",
        org,
        status=status,
        thread=thread,
        error=error,
        draft=draft,
        notice=notice,
        file_error=file_error,
        **(await thread_extras(request, org, session, thread)),
    )
    _set_session(portal, response, session)  # sliding expiry
    return response


async def conversation_page(request: web.Request) -> web.StreamResponse:
    org = await _organisation(request)
    session = await _read_session(request, org)
    if session is None:
        raise web.HTTPSeeOther(_url(request, "comeback", org))
    draft = _portal(request).drafts.take(request.query.get("d"))
    if draft is not None and draft.fields.get("part") == "file":
        return await _thread_page(request, org, session, status=draft.status, file_error=draft.error)
    if draft is not None:
        return await _thread_page(
            request, org, session, status=draft.status, error=draft.error, draft=draft.fields.get("text", "")
        )
    notice = DONE_NOTICES.get(request.query.get("sent", ""))
    return await _thread_page(request, org, session, notice=notice)


async def conversation_write(request: web.Request) -> web.StreamResponse:
    org = await _organisation(request)
    portal = _portal(request)
    session = await _read_session(request, org)
    if session is None:
        raise web.HTTPSeeOther(_url(request, "comeback", org))
    form = await _form(request)
    text = form.get("text", "")

    def again(error: str, status: int) -> web.HTTPSeeOther:
        return _again(request, "conversation", org, Draft(error, status, {"text": text}), "#write")

    limits = portal.limits
    if not portal.limiter.hit(
        b"write:" + session.conversation_id.bytes,
        limits.writes_per_conversation,
        limits.writes_per_conversation_window_s,
    ):
        raise again("portal.error.busy", 429)
    try:
        expected = int(form.get("after", "-1"))
        # The code must still open the conversation before anything is written to it.
        conversation_id, _key = await portal.channel.service.access(org.id, session.code)
        await portal.channel.service.write(
            org.id, org.retention_days, conversation_id, Author.EMPLOYEE, text, expected
        )
    except (StaleWriteError, ValueError):
        raise again("portal.error.stale", 409) from None
    except InvalidTextError:
        raise again("portal.error.text", 400) from None
    except ConversationClosedError:
        raise again("portal.error.closed", 409) from None
    raise web.HTTPSeeOther(_url(request, "conversation", org) + "?sent=1#latest")


async def delete_form(request: web.Request) -> web.Response:
    org = await _organisation(request)
    if await _read_session(request, org) is None:
        raise web.HTTPSeeOther(_url(request, "comeback", org))
    return _page(request, "portal_delete.html", org, error=None)


async def delete_submit(request: web.Request) -> web.Response:
    org = await _organisation(request)
    portal = _portal(request)
    session = await _read_session(request, org)
    if session is None:
        raise web.HTTPSeeOther(_url(request, "comeback", org))
    form = await _form(request)
    if form.get("confirm") != "yes":
        return _page(request, "portal_delete.html", org, status=400, error="portal.error.confirm")
    try:
        conversation_id, _key = await portal.channel.service.access(org.id, session.code)
        await portal.channel.service.delete(org.id, conversation_id)
    except ConversationNotFoundError:
        pass  # gone already: the outcome the employee asked for
    await portal.web_sessions.end(session.token)
    response = _page(request, "portal_deleted.html", org)
    _clear_session(portal, response)
    return response


async def leave(request: web.Request) -> web.Response:
    org = await _organisation(request)
    portal = _portal(request)
    session = await _read_session(request, org)
    if session is not None:
        await portal.web_sessions.end(session.token)  # the cookie, even if copied, opens nothing any more
    response = _page(request, "portal_left.html", org)
    _clear_session(portal, response)
    return response

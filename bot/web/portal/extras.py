"""The portal's conversation beyond text: files both ways, picking a call time, the reply notice, taking the
conversation along, and the installable web app (manifest and service worker) that Web Push needs.

Every handler opens the conversation with the receipt code in the employee's session, as the conversation page
does; forms answer with a redirect to a GET page (POST/redirect/GET).
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.domain.conversations import (
    Attachment,
    Author,
    ConversationClosedError,
    ConversationKey,
    ConversationNotFoundError,
    DamagedMessageError,
    InvalidSlotError,
    InvalidTextError,
    StaleWriteError,
    Thread,
    today_in,
)
from bot.domain.tenancy import Organisation
from bot.mail.reply_notice import push_endpoint_allowed, push_hosts
from bot.mail.smtp import mail_configured
from bot.media.clean import FileRefusedError, clean
from bot.security.webpush import PushSubscription, application_server_key
from bot.storage.notices import NoticeChoice, SqlNotices
from bot.web.portal.channel import master_key
from bot.web.portal.drafts import Draft
from bot.web.portal.routes import (
    EmployeeSession,
    _again,
    _form,
    _organisation,
    _page,
    _portal,
    _read_session,
    _url,
)
from bot.web.portal.take_along import (
    calendar_response,
    call_calendar,
    conversation_archive,
    file_response,
    when,
)
from bot.web.shared.templates import request_locale, translate

MAX_EMAIL = 254
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]{2,}$")


def register_extras(app: web.Application) -> None:
    router = app.router
    router.add_post("/{org}/file", upload)
    router.add_get("/{org}/file/{sequence}", download, name="file")
    router.add_post("/{org}/call", book)
    router.add_get("/{org}/call.ics", call_ics, name="call_ics")
    router.add_get("/{org}/notice", notice_page, name="notice")
    router.add_post("/{org}/notice", notice_submit)
    router.add_post("/{org}/notice/push", notice_push)
    router.add_get("/{org}/export", export, name="export")
    router.add_get("/{org}/manifest.webmanifest", manifest, name="manifest")
    router.add_get("/{org}/sw.js", service_worker, name="service_worker")


def _notices(request: web.Request) -> SqlNotices:
    portal = _portal(request)
    return SqlNotices(portal.services.sessions, master_key(portal.services.settings))


async def thread_extras(
    request: web.Request, org: Organisation, session: EmployeeSession, thread: Thread
) -> dict[str, Any]:
    """What the conversation page shows besides the messages."""
    portal = _portal(request)
    locale = request_locale(request)
    offer = thread.open_offer
    booking = thread.booking
    choice = await _notices(request).choice(session.conversation_id)
    return {
        "file_limit_mb": portal.services.settings.portal_file_mb,
        "offer": offer,
        "offer_times": [(s.isoformat(), when(s, org.timezone, locale)) for s in offer.slots] if offer else [],
        "booking": booking,
        "booking_time": when(booking.slots[0], org.timezone, locale) if booking and booking.slots else None,
        "when": lambda moment: when(moment, org.timezone, locale),
        "times": lambda slots: "; ".join(when(s, org.timezone, locale) for s in slots),
        "notice_email": choice.email is not None,
        "notice_push": choice.push is not None,
    }


async def _open(
    request: web.Request,
) -> tuple[Organisation, EmployeeSession, ConversationKey]:
    org = await _organisation(request)
    session = await _read_session(request, org)
    if session is None:
        raise web.HTTPSeeOther(_url(request, "comeback", org))
    try:
        _conversation_id, key = await _portal(request).channel.service.access(org.id, session.code)
    except ConversationNotFoundError:
        raise web.HTTPSeeOther(_url(request, "comeback", org)) from None
    return org, session, key


async def _thread(request: web.Request) -> tuple[Organisation, EmployeeSession, Thread]:
    org, session, key = await _open(request)
    try:
        thread = await _portal(request).channel.service.read(
            org.id, session.conversation_id, key, Author.EMPLOYEE
        )
    except DamagedMessageError:
        raise web.HTTPSeeOther(_url(request, "conversation", org)) from None
    return org, session, thread


def _done(request: web.Request, org: Organisation, what: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(_url(request, "conversation", org) + f"?sent={what}#latest")


# -- files ---------------------------------------------------------------------------------------------
async def upload(request: web.Request) -> web.StreamResponse:
    org, session, _key = await _open(request)
    portal = _portal(request)
    limits = portal.limits
    form = await request.post()

    def again(error: str, status: int) -> web.HTTPSeeOther:
        return _again(request, "conversation", org, Draft(error, status, {"part": "file"}), "#files")

    if not portal.limiter.hit(
        b"write:" + session.conversation_id.bytes,
        limits.writes_per_conversation,
        limits.writes_per_conversation_window_s,
    ):
        raise again("portal.error.busy", 429)
    field = form.get("file")
    if not isinstance(field, web.FileField):
        raise again("portal.files.error.empty", 400)
    max_bytes = portal.services.settings.portal_file_mb * 1024 * 1024
    data = field.file.read(max_bytes + 1)
    try:
        cleaned = await asyncio.to_thread(clean, data, max_bytes)  # Pillow/pypdf off the event loop
        expected = int(str(form.get("after", "-1")))
        await portal.channel.service.send_file(
            org.id,
            org.retention_days,
            session.conversation_id,
            Author.EMPLOYEE,
            Attachment(field.filename or "file", cleaned.media_type, cleaned.data),
            expected,
        )
    except FileRefusedError as refused:
        raise again(f"portal.files.error.{refused.problem.value}", 400) from None
    except (StaleWriteError, ValueError):
        raise again("portal.error.stale", 409) from None
    except InvalidTextError:
        raise again("portal.files.error.empty", 400) from None
    except ConversationClosedError:
        raise again("portal.error.closed", 409) from None
    raise _done(request, org, "file")


async def download(request: web.Request) -> web.StreamResponse:
    _org, _session, thread = await _thread(request)
    try:
        attachment = thread.attachment(int(request.match_info["sequence"]))
    except ValueError:
        attachment = None
    if attachment is None:
        raise web.HTTPNotFound()
    return file_response(attachment)


# -- a call --------------------------------------------------------------------------------------------
async def book(request: web.Request) -> web.StreamResponse:
    org, session, thread = await _thread(request)
    form = await _form(request)
    offer = thread.open_offer
    try:
        if offer is None:
            raise InvalidSlotError("no open offer")
        picked = datetime.fromisoformat(form.get("slot", ""))
        await _portal(request).channel.service.book_slot(
            org.id, org.retention_days, session.conversation_id, offer, picked, int(form.get("after", "-1"))
        )
    except (InvalidSlotError, ValueError):
        raise _again(request, "conversation", org, Draft("portal.call.error", 400), "#call") from None
    except StaleWriteError:
        raise _again(request, "conversation", org, Draft("portal.error.stale", 409), "#call") from None
    except ConversationClosedError:
        raise _again(request, "conversation", org, Draft("portal.error.closed", 409), "#call") from None
    raise _done(request, org, "call")


async def call_ics(request: web.Request) -> web.StreamResponse:
    _org, session, thread = await _thread(request)
    booking = thread.booking
    if booking is None or not booking.slots:
        raise web.HTTPNotFound()
    t = translate(request)
    return calendar_response(call_calendar(session.conversation_id, booking, t("portal.call.ics_summary")))


# -- the reply notice ----------------------------------------------------------------------------------
async def notice_page(request: web.Request) -> web.StreamResponse:
    org, session, _key = await _open(request)
    choice = await _notices(request).choice(session.conversation_id)
    draft = _portal(request).drafts.take(request.query.get("d"))
    settings = _portal(request).services.settings
    return _page(
        request,
        "portal_notice.html",
        org,
        status=draft.status if draft else 200,
        error=draft.error if draft else None,
        typed=draft.fields.get("email", "") if draft else "",
        email=choice.email,
        push=choice.push is not None,
        vapid_key=application_server_key(master_key(settings)),
        mail=mail_configured(settings),
        delay_min=settings.notice_delay_min_minutes,
        delay_max=settings.notice_delay_max_minutes,
    )


async def notice_submit(request: web.Request) -> web.StreamResponse:
    org, session, _key = await _open(request)
    form = await _form(request)
    notices = _notices(request)
    current = await notices.choice(session.conversation_id)
    action = form.get("action", "email")
    if action == "email-off":
        await notices.choose(session.conversation_id, NoticeChoice(None, current.push))
        raise _done(request, org, "notice-off")
    if action == "push-off":
        await notices.choose(session.conversation_id, NoticeChoice(current.email, None))
        raise _done(request, org, "notice-off")
    email = form.get("email", "").strip()
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise _again(
            request, "notice", org, Draft("portal.notice.error_email", 400, {"email": email[:MAX_EMAIL]})
        )
    await notices.choose(session.conversation_id, NoticeChoice(email, current.push))
    raise _done(request, org, "notice")


async def notice_push(request: web.Request) -> web.StreamResponse:
    """The browser's push subscription, posted by portal.js (JSON, with the CSRF token in a header)."""
    _org, session, _key = await _open(request)
    try:
        data = json.loads(await request.text())
        subscription = PushSubscription(
            str(data["endpoint"]), str(data["keys"]["p256dh"]), str(data["keys"]["auth"])
        )
    except (ValueError, KeyError, TypeError):
        raise web.HTTPBadRequest() from None
    hosts = push_hosts(_portal(request).services.settings)
    if not push_endpoint_allowed(subscription.endpoint, hosts) or len(subscription.p256dh) > 200:
        raise web.HTTPBadRequest()
    notices = _notices(request)
    current = await notices.choice(session.conversation_id)
    await notices.choose(session.conversation_id, NoticeChoice(current.email, subscription))
    return web.Response(status=204)


# -- take it along -------------------------------------------------------------------------------------
async def export(request: web.Request) -> web.StreamResponse:
    org, _session, thread = await _thread(request)
    t = translate(request)
    today = today_in(_portal(request).services.clock).isoformat()
    data = conversation_archive(thread, t, org.timezone, request_locale(request), today)
    response = web.Response(body=data, content_type="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="conversation-{today}.zip"'
    return response


# -- the installable web app ---------------------------------------------------------------------------
async def manifest(request: web.Request) -> web.StreamResponse:
    org = await _organisation(request)
    t = translate(request)
    base = _url(request, "landing", org)
    asset = request.app.router["portal_assets"]
    body = {
        # A neutral name: the icon on a phone's home screen says nothing about the employer or the counsellor.
        "name": t("portal.app.name"),
        "short_name": t("portal.app.short_name"),
        "start_url": base + "/return",
        "scope": base + "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#ffffff",
        "icons": [
            {
                "src": str(asset.url_for(filename=f"icon-{size}.png")),
                "sizes": f"{size}x{size}",
                "type": "image/png",
            }
            for size in (192, 512)
        ],
    }
    return web.json_response(body, content_type="application/manifest+json")


async def service_worker(request: web.Request) -> web.StreamResponse:
    """Shows a fixed sentence when a push message arrives (the message itself carries nothing)."""
    org = await _organisation(request)
    t = translate(request)
    script = (
        '"use strict";\n'
        f"var TITLE = {json.dumps(t('portal.notice.push_title'))};\n"
        f"var BODY = {json.dumps(t('portal.notice.push_body'))};\n"
        f"var OPEN = {json.dumps(_url(request, 'comeback', org))};\n"
        "self.addEventListener('push', function (event) {\n"
        "  event.waitUntil(self.registration.showNotification(TITLE, {body: BODY, tag: 'reply'}));\n"
        "});\n"
        "self.addEventListener('notificationclick', function (event) {\n"
        "  event.notification.close();\n"
        "  event.waitUntil(self.clients.openWindow(OPEN));\n"
        "});\n"
    )
    return web.Response(text=script, content_type="text/javascript")

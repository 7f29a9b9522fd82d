"""The counsellor's inbox in the console: `/console/{org}/inbox…`.

The inbox opens with the counsellor's passphrase (Argon2id, in a worker thread). The unlocked private key is
then kept for `VIPBOT_INBOX_UNLOCK_MINUTES`, encrypted in the `inbox_unlock` row under a random key that only
this browser's cookie holds: the database alone and the cookie alone open nothing, locking deletes the row.
Reading, replying, closing and classifying happen here; whistleblowing reports show their legal clock.

Forms that carry text (the passphrase, a reply) are answered with a redirect to a GET page, whatever the outcome
(see `bot.web.portal.drafts`): the browser's session-restore files keep no passphrase and no reply. Signing out
of the console locks the inbox too (`lock_on_sign_out`).
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from aiohttp import web

from bot.domain.accounts import Account, Role
from bot.domain.conversations import (
    WHISTLEBLOWING_FOLLOW_UP,
    Author,
    Classification,
    ConversationClosedError,
    ConversationNotFoundError,
    DamagedMessageError,
    InvalidTextError,
    StaleWriteError,
    Status,
    Thread,
    today_in,
)
from bot.domain.tenancy import Organisation
from bot.errors import NotFoundError
from bot.logs import get_logger
from bot.security.conversation_keys import UnlockedCounsellorKey, unlock_counsellor_key
from bot.security.errors import SecurityError
from bot.security.secret import Secret
from bot.usecases.audit import CONVERSATION, AuditAction
from bot.web.console.auth import CONSOLE, organisation_for
from bot.web.portal.channel import ConfidentialChannel, InboxUnlock
from bot.web.portal.drafts import Draft, Drafts
from bot.web.portal.limits import RateLimiter
from bot.web.shared.cookies import cookie_name
from bot.web.shared.templates import render, request_locale

log = get_logger(__name__)

NAV_ITEM = ("portal.inbox.nav", "inbox")
MAX_PASSPHRASE = 1024
UNLOCK_TRIES = 5
UNLOCK_WINDOW_S = 900


@dataclass
class Inbox:
    channel: ConfidentialChannel
    limiter: RateLimiter
    cookie: str
    secure: bool
    lifetime: timedelta
    drafts: Drafts = field(default_factory=Drafts)
    # Each Argon2id unlock takes 256 MiB for about a second: at most two at a time.
    unlocking: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))


INBOX = web.AppKey("inbox", Inbox)


def register(console: web.Application) -> None:
    state = console[CONSOLE]
    services = state.services
    console[INBOX] = Inbox(
        channel=ConfidentialChannel(services.engine, services.settings, services.clock),
        limiter=RateLimiter(),
        cookie=cookie_name("vipbot_inbox", state.secure),
        secure=state.secure,
        lifetime=timedelta(minutes=services.settings.inbox_unlock_minutes),
    )
    router = console.router
    router.add_get("/{org}/inbox", inbox_page, name="inbox")
    router.add_post("/{org}/inbox/unlock", unlock, name="inbox_unlock")
    router.add_post("/{org}/inbox/lock", lock, name="inbox_lock")
    router.add_get("/{org}/inbox/{conversation}", conversation_page, name="inbox_conversation")
    router.add_post("/{org}/inbox/{conversation}/reply", reply, name="inbox_reply")
    router.add_post("/{org}/inbox/{conversation}/classify", classify, name="inbox_classify")
    router.add_post("/{org}/inbox/{conversation}/status", set_status, name="inbox_status")
    router.add_post("/{org}/inbox/{conversation}/whistleblowing", whistleblowing, name="inbox_whistleblowing")


async def _audit(
    request: web.Request,
    account: Account,
    action: AuditAction,
    org: Organisation,
    subject: str = CONVERSATION,
) -> None:
    """Who did what in which organisation: a conversation is named by its kind only (see bot.usecases.audit)."""
    await request.config_dict[CONSOLE].services.audit.record(account.id, action, org.id, subject)


def _inbox(request: web.Request) -> Inbox:
    return request.config_dict[INBOX]


def _url(request: web.Request, name: str, **parts: str) -> str:
    return str(request.app.router[name].url_for(**parts))


async def _context(request: web.Request) -> tuple[Account, Organisation]:
    return await organisation_for(request, Role.COUNSELLOR)


def _read_cookie(request: web.Request) -> InboxUnlock | None:
    raw = request.cookies.get(_inbox(request).cookie)
    if not raw:
        return None
    try:
        data = base64.urlsafe_b64decode(raw.encode("ascii"))
    except ValueError:
        return None
    if len(data) != 48:
        return None
    return InboxUnlock(UUID(bytes=data[:16]), Secret(data[16:]))


async def _unlocked(request: web.Request, account: Account) -> UnlockedCounsellorKey | None:
    if account.counsellor_id is None:
        return None
    cookie = _read_cookie(request)
    if cookie is None:
        return None
    key = await _inbox(request).channel.resume_inbox(cookie)
    if key is None or key.counsellor_id != account.counsellor_id:
        return None
    return key


def _locked_page(
    request: web.Request, account: Account, org: Organisation, *, status: int = 200, error: str | None = None
) -> web.Response:
    return render(
        request,
        "inbox_locked.html",
        status=status,
        account=account,
        organisation=org,
        page="inbox",
        error=error,
        has_key=account.counsellor_id is not None,
        minutes=int(_inbox(request).lifetime.total_seconds() // 60),
    )


def _again(request: web.Request, url: str, draft: Draft) -> web.HTTPSeeOther:
    token = _inbox(request).drafts.keep(draft)
    return web.HTTPSeeOther(f"{url}?d={token}")


async def inbox_page(request: web.Request) -> web.StreamResponse:
    account, org = await _context(request)
    key = await _unlocked(request, account)
    if key is None:
        draft = _inbox(request).drafts.take(request.query.get("d"))
        if draft is not None:
            return _locked_page(request, account, org, status=draft.status, error=draft.error)
        return _locked_page(request, account, org)
    channel = _inbox(request).channel
    conversations = [c for c in await channel.store.inbox(key.counsellor_id) if c.organisation_id == org.id]
    today = today_in(channel.clock)
    return render(
        request,
        "inbox.html",
        account=account,
        organisation=org,
        page="inbox",
        conversations=conversations,
        today=today,
        labels=_labels(request),
    )


async def unlock(request: web.Request) -> web.StreamResponse:
    account, org = await _context(request)
    if account.counsellor_id is None:
        return _locked_page(request, account, org, status=403, error="portal.inbox.no_key")
    inbox = _inbox(request)
    form = await request.post()
    passphrase = form.get("passphrase")
    here = _url(request, "inbox", org=org.slug)
    wrong = Draft("portal.inbox.wrong_passphrase", 400)
    if not isinstance(passphrase, str) or not passphrase or len(passphrase) > MAX_PASSPHRASE:
        raise _again(request, here, wrong)
    if not inbox.limiter.hit(b"unlock:" + account.counsellor_id.bytes, UNLOCK_TRIES, UNLOCK_WINDOW_S):
        raise _again(request, here, Draft("portal.inbox.too_many", 429))
    try:
        vault = await inbox.channel.store.vault(account.counsellor_id)
    except NotFoundError:
        raise _again(request, here, Draft("portal.inbox.no_key", 403)) from None
    try:
        async with inbox.unlocking:
            key = await asyncio.to_thread(
                unlock_counsellor_key, account.counsellor_id, vault.wrapped_private, Secret(passphrase)
            )
    except SecurityError:
        log.debug("inbox: unlock refused")  # debug only: a line with a time would say when the inbox was used
        raise _again(request, here, wrong) from None
    shared = await inbox.channel.share_with_colleagues(key)
    if shared:
        log.debug("inbox: conversation keys shared with co-counsellors", count=shared)
    session = await inbox.channel.open_inbox(key, inbox.lifetime)
    await _audit(request, account, AuditAction.UNLOCKED, org, "inbox")
    response = web.HTTPSeeOther(_url(request, "inbox", org=org.slug))
    value = base64.urlsafe_b64encode(session.unlock_id.bytes + session.key.reveal()).decode("ascii")
    response.set_cookie(
        inbox.cookie,
        value,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=inbox.secure,
        max_age=int(inbox.lifetime.total_seconds()),
    )
    raise response


async def lock(request: web.Request) -> web.StreamResponse:
    _account, org = await _context(request)
    response = web.HTTPSeeOther(_url(request, "inbox", org=org.slug))
    await lock_on_sign_out(request, response)
    raise response


async def lock_on_sign_out(request: web.Request, response: web.StreamResponse) -> None:
    """Lock this browser's inbox: the unlock row goes, so a copy of the cookie opens nothing any more."""
    inbox = request.config_dict.get(INBOX)
    if inbox is None:
        return
    cookie = _read_cookie(request)
    if cookie is not None:
        await inbox.channel.close_inbox(cookie.unlock_id)
    response.del_cookie(inbox.cookie, path="/")


def _labels(request: web.Request) -> dict[str, dict[str, str]]:
    taxonomy = request.config_dict[CONSOLE].services.content.catalog.taxonomy
    locale = request_locale(request)
    return {
        "categories": {i.id: i.label.in_locale(locale) for i in taxonomy.categories},
        "contact_types": {i.id: i.label.in_locale(locale) for i in taxonomy.contact_types},
        "follow_ups": {i.id: i.label.in_locale(locale) for i in taxonomy.follow_ups},
    }


def _conversation_id(request: web.Request) -> UUID:
    try:
        return UUID(request.match_info["conversation"])
    except ValueError:
        raise web.HTTPNotFound() from None


async def _open(
    request: web.Request,
) -> tuple[Account, Organisation, UnlockedCounsellorKey, UUID]:
    account, org = await _context(request)
    key = await _unlocked(request, account)
    if key is None:
        raise web.HTTPSeeOther(_url(request, "inbox", org=org.slug))
    conversation_id = _conversation_id(request)
    try:
        owner = await _inbox(request).channel.store.holds_share(conversation_id, key.counsellor_id)
    except ConversationNotFoundError:
        raise web.HTTPNotFound() from None
    if owner != org.id:
        raise web.HTTPNotFound()
    return account, org, key, conversation_id


async def _thread_page(
    request: web.Request,
    account: Account,
    org: Organisation,
    key: UnlockedCounsellorKey,
    conversation_id: UUID,
    *,
    status: int = 200,
    error: str | None = None,
    draft: str = "",
) -> web.StreamResponse:
    channel = _inbox(request).channel
    try:
        conversation_key = await channel.service.counsellor_key(key, conversation_id)
        thread: Thread | None = await channel.service.read(
            org.id, conversation_id, conversation_key, Author.COUNSELLOR
        )
    except ConversationNotFoundError:
        raise web.HTTPNotFound() from None
    except DamagedMessageError:
        log.warning("inbox: a conversation did not open (damaged or tampered)")
        thread = None
        status, error = 500, "portal.inbox.damaged"
    summary = thread.summary if thread else await channel.store.get(org.id, conversation_id)
    today = today_in(channel.clock)
    return render(
        request,
        "inbox_conversation.html",
        status=status,
        account=account,
        organisation=org,
        page="inbox",
        thread=thread,
        summary=summary,
        error=error,
        draft=draft,
        labels=_labels(request),
        duties=summary.whistleblowing.due(today) if summary.whistleblowing else [],
        today=today,
        whistleblowing_id=WHISTLEBLOWING_FOLLOW_UP,
    )


async def conversation_page(request: web.Request) -> web.StreamResponse:
    account, org, key, conversation_id = await _open(request)
    draft = _inbox(request).drafts.take(request.query.get("d"))
    if draft is not None:
        return await _thread_page(
            request,
            account,
            org,
            key,
            conversation_id,
            status=draft.status,
            error=draft.error,
            draft=draft.fields.get("text", ""),
        )
    return await _thread_page(request, account, org, key, conversation_id)


async def reply(request: web.Request) -> web.StreamResponse:
    account, org, _key, conversation_id = await _open(request)
    form = await request.post()
    text = form.get("text")
    text = text if isinstance(text, str) else ""
    after = form.get("after")
    here = _url(request, "inbox_conversation", org=org.slug, conversation=str(conversation_id))
    try:
        expected = int(after) if isinstance(after, str) else -1
        await _inbox(request).channel.service.write(
            org.id, org.retention_days, conversation_id, Author.COUNSELLOR, text, expected
        )
    except (StaleWriteError, ValueError):
        raise _again(request, here, Draft("portal.inbox.stale", 409, {"text": text})) from None
    except InvalidTextError:
        raise _again(request, here, Draft("portal.error.text", 400, {"text": text})) from None
    except ConversationClosedError:
        raise _again(request, here, Draft("portal.error.closed", 409, {"text": text})) from None
    await _audit(request, account, AuditAction.REPLIED, org)
    raise web.HTTPSeeOther(here)


async def classify(request: web.Request) -> web.StreamResponse:
    account, org, _key, conversation_id = await _open(request)
    form = await request.post()
    labels = _labels(request)

    def pick(name: str, allowed: dict[str, str]) -> str | None:
        value = form.get(name)
        return value if isinstance(value, str) and value in allowed else None

    classification = Classification(
        category=pick("category", labels["categories"]),
        contact_type=pick("contact_type", labels["contact_types"]),
        follow_up=pick("follow_up", labels["follow_ups"]),
    )
    channel = _inbox(request).channel
    await channel.store.classify(org.id, conversation_id, classification, today_in(channel.clock))
    await _audit(request, account, AuditAction.CLASSIFIED, org)
    raise web.HTTPSeeOther(
        _url(request, "inbox_conversation", org=org.slug, conversation=str(conversation_id))
    )


async def set_status(request: web.Request) -> web.StreamResponse:
    account, org, _key, conversation_id = await _open(request)
    form = await request.post()
    status = Status.CLOSED if form.get("status") == Status.CLOSED.value else Status.OPEN
    await _inbox(request).channel.store.set_status(org.id, conversation_id, status)
    await _audit(request, account, AuditAction.CONVERSATION_STATUS, org)
    raise web.HTTPSeeOther(
        _url(request, "inbox_conversation", org=org.slug, conversation=str(conversation_id))
    )


async def whistleblowing(request: web.Request) -> web.StreamResponse:
    account, org, _key, conversation_id = await _open(request)
    form = await request.post()
    channel = _inbox(request).channel
    today = today_in(channel.clock)
    duty = form.get("duty")
    await channel.store.record_whistleblowing(
        org.id,
        conversation_id,
        acknowledged_on=today if duty == "acknowledge" else None,
        feedback_on=today if duty == "feedback" else None,
    )
    await _audit(request, account, AuditAction.WHISTLEBLOWING_DUTY, org)
    raise web.HTTPSeeOther(
        _url(request, "inbox_conversation", org=org.slug, conversation=str(conversation_id))
    )

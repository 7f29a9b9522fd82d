"""The counsellor's inbox in the console: `/console/o/{org}/inbox…` (the old `/console/{org}/inbox…` redirects).

The inbox opens with the counsellor's passphrase (Argon2id, in a worker thread). The unlocked private key is
then kept for `VIPBOT_INBOX_UNLOCK_MINUTES`, encrypted in the `inbox_unlock` row under a random key that only
this browser's cookie holds: the database alone and the cookie alone open nothing, locking deletes the row.
Reading, replying, labelling, closing and classifying happen here; whistleblowing reports show their legal clock.

Unlocking takes a few seconds. The form posts, the answer sets the cookie at once and redirects to a page that
says the key is being opened (`aria-busy`, a spinner, and a `<meta http-equiv="refresh">` so it needs no
script) while the work runs as a task of this process; the page moves on to the inbox once the unlock row
exists. With several replicas the page waits for the row wherever the work ran.

Forms that carry text (the passphrase, a reply, a label) are answered with a redirect to a GET page, whatever
the outcome (see `bot.web.portal.drafts`): the browser's session-restore files keep no passphrase and no reply.
Signing out of the console locks the inbox too (`lock_on_sign_out`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import secrets
from datetime import timedelta
from uuid import UUID

from aiohttp import web
from markupsafe import Markup, escape

from bot.domain.accounts import Account, Role
from bot.domain.conversations import (
    WHISTLEBLOWING_FOLLOW_UP,
    Author,
    Classification,
    ConversationClosedError,
    DamagedMessageError,
    InboxState,
    InvalidTextError,
    StaleWriteError,
    Status,
    Thread,
    label_key_id,
    today_in,
)
from bot.domain.tenancy import Organisation
from bot.errors import NotFoundError
from bot.logs import get_logger, log_failure
from bot.security.conversation_keys import UnlockedCounsellorKey, unlock_counsellor_key
from bot.security.errors import SecurityError
from bot.security.secret import Secret
from bot.storage.conversations import CounsellorView
from bot.usecases.audit import CONVERSATION, AuditAction, AuditTrail
from bot.web.console.auth import CONSOLE, console_of, organisation_for, require
from bot.web.console.cache import Expiring
from bot.web.console.inbox_access import (
    INBOX,
    Inbox,
    Outcome,
    again,
    conversation_id_of,
    conversation_url,
    inbox_of,
    key_from_row,
    open_conversation,
    read_cookie,
    unlocked_key,
)
from bot.web.console.waiting import inbox_overview
from bot.web.portal.channel import ConfidentialChannel, InboxUnlock
from bot.web.portal.drafts import Draft
from bot.web.portal.limits import RateLimiter
from bot.web.shared.cookies import cookie_name
from bot.web.shared.templates import TEMPLATES, Fragment, render, request_locale
from bot.web.shared.urls import url_for

log = get_logger(__name__)

MAX_PASSPHRASE = 1024
UNLOCK_TRIES = 5
UNLOCK_WINDOW_S = 900
#: How long the "opening your key" page waits for an unlock that runs elsewhere (another replica) before it
#: says it did not work (refreshing every REFRESH_S seconds).
UNLOCK_WAIT_ROUNDS = 30
REFRESH_S = 1
#: The conversation page, top to bottom: each a template `_conversation_<name>.html` with the page's context.
CONVERSATION_SECTIONS: tuple[str, ...] = ("clock", "thread", "reply", "calls", "label", "classify", "status")


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
    router.add_get("/inbox", waiting_inbox, name="inbox_waiting")
    router.add_get("/o/{org}/inbox", inbox_page, name="inbox")
    router.add_post("/o/{org}/inbox/unlock", unlock, name="inbox_unlock")
    router.add_get("/o/{org}/inbox/unlocking", unlocking_page, name="inbox_unlocking")
    router.add_post("/o/{org}/inbox/lock", lock, name="inbox_lock")
    router.add_get("/o/{org}/inbox/{conversation}", conversation_page, name="inbox_conversation")
    router.add_post("/o/{org}/inbox/{conversation}/reply", reply, name="inbox_reply")
    router.add_post("/o/{org}/inbox/{conversation}/label", label, name="inbox_label")
    router.add_post("/o/{org}/inbox/{conversation}/classify", classify, name="inbox_classify")
    router.add_post("/o/{org}/inbox/{conversation}/status", set_status, name="inbox_status")
    router.add_post(
        "/o/{org}/inbox/{conversation}/whistleblowing", whistleblowing, name="inbox_whistleblowing"
    )
    # The inbox used to live at /console/{org}/inbox…: bookmarks and old digest links keep working.
    router.add_route("*", "/{org}/inbox", moved, name="inbox_moved")
    router.add_route("*", "/{org}/inbox/{rest:.*}", moved, name="inbox_moved_below")

    async def stop_unlocks(_app: web.Application) -> None:
        # Wait for the cancelled unlocks to end: one still writing its unlock row would otherwise outlive the
        # database engine and never finish.
        pending = list(console[INBOX].pending.values())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    console.on_cleanup.append(stop_unlocks)


async def moved(request: web.Request) -> web.StreamResponse:
    """308 (method and body kept) from the old place of a page to its new one."""
    org = request.match_info["org"]
    path = request.rel_url.path
    at = path.index(f"/{org}/inbox")
    new = f"{path[:at]}/o{path[at:]}"
    query = request.rel_url.raw_query_string
    raise web.HTTPPermanentRedirect(f"{new}?{query}" if query else new)


async def _audit(
    request: web.Request,
    account: Account,
    action: AuditAction,
    org: Organisation,
    subject: str = CONVERSATION,
) -> None:
    """Who did what in which organisation: a conversation is named by its kind only (see bot.usecases.audit)."""
    await request.config_dict[CONSOLE].services.audit.record(account.id, action, org.id, subject)


async def _context(request: web.Request) -> tuple[Account, Organisation]:
    return await organisation_for(request, Role.COUNSELLOR)


def _next_conversation(value: object) -> UUID | None:
    """Where to go after unlocking: a conversation id, or nothing (anything else is ignored)."""
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def _locked_page(
    request: web.Request, account: Account, org: Organisation, *, status: int = 200, error: str | None = None
) -> web.Response:
    following = _next_conversation(request.query.get("next"))
    return render(
        request,
        "inbox_locked.html",
        status=status,
        account=account,
        organisation=org,
        page="inbox",
        error=error,
        has_key=account.counsellor_id is not None,
        minutes=int(inbox_of(request).lifetime.total_seconds() // 60),
        following=following,
    )


# -- where the digest's link leads ---------------------------------------------------------------------------
async def waiting_inbox(request: web.Request) -> web.StreamResponse:
    """`/console/inbox`: the one organisation whose conversations wait for this counsellor, else the home page.

    The digest e-mail links here: it names no organisation (DESIGN §4.4), and this page finds it.
    """
    account = await require(request, Role.COUNSELLOR)
    home = url_for(request, "home")
    overview = await inbox_overview(request.config_dict[CONSOLE], account)
    waiting = [org_id for org_id, found in overview.items() if found.needs_you or found.deadlines]
    if len(waiting) != 1:
        raise web.HTTPSeeOther(home)
    services = request.config_dict[CONSOLE].services
    organisations = {o.id: o for o in await services.organisations.list_organisations()}
    organisation = organisations.get(waiting[0])
    if organisation is None:
        raise web.HTTPSeeOther(home)
    raise web.HTTPSeeOther(url_for(request, "inbox", org=organisation.slug))


# -- the list ------------------------------------------------------------------------------------------------
FILTERS = {
    "open": (InboxState.NEW, InboxState.WAITING_FOR_YOU, InboxState.WAITING_FOR_EMPLOYEE),
    "needs_you": (InboxState.NEW, InboxState.WAITING_FOR_YOU),
    **{state.value: (state,) for state in InboxState},
    "all": tuple(InboxState),
}


async def inbox_page(request: web.Request) -> web.StreamResponse:
    account, org = await _context(request)
    channel = inbox_of(request).channel
    cookie = read_cookie(request)
    key = None
    if cookie is not None and account.counsellor_id is not None:
        # One session for the page: the unlock row and the list (nothing in the list opens without the row).
        read = await channel.store.inbox_listing(account.counsellor_id, org.id, cookie.unlock_id)
        key = await key_from_row(request, account, read.unlock)
    if key is None:
        draft = inbox_of(request).drafts.take(request.query.get("d"))
        if draft is not None:
            return _locked_page(request, account, org, status=draft.status, error=draft.error)
        return _locked_page(request, account, org)
    chosen = request.query.get("show", "open")
    if chosen not in FILTERS:
        chosen = "open"
    listing = read.found
    listed = listing.conversations
    locale = request_locale(request)
    today = today_in(channel.clock)
    shown = [(summary, share) for summary, share in listed if summary.state in FILTERS[chosen]]
    # The list without its labels is rendered once for a few seconds (what it shows is stored in the clear);
    # labels are opened by every request, one label key per audience, and forgotten when it ends (DESIGN §4.3).
    key_of_page = (key.counsellor_id, org.id, org.name, chosen, locale, today, tuple(s for s, _ in listed))

    async def compute() -> Fragment:
        counts = {name: sum(1 for s, _ in listed if s.state in states) for name, states in FILTERS.items()}
        return request.config_dict[TEMPLATES].fragment(
            request,
            "inbox_main.html",
            organisation=org,
            conversations=[
                (summary, _label_slot(n) if summary.sealed_label is not None else None)
                for n, (summary, _share) in enumerate(shown)
            ],
            filters=list(FILTERS),
            chosen=chosen,
            counts=counts,
            states=[state.value for state in InboxState],
            today=today,
            labels=_labels(request),
        )

    pages: Expiring[Fragment] = console_of(request).expiring("inbox_pages", INBOX_PAGES_TTL)
    body = (await pages.get_or_compute(key_of_page, compute)).fill(request)
    reader = channel.labels.reader(key, listing.label_key_shares)
    translator = request.config_dict[TEMPLATES].translator
    texts: dict[str, str] = {}
    for n, (summary, share) in enumerate(shown):
        if summary.sealed_label is not None:
            opened = reader.label(summary, share=share)
            text = opened or translator.t(
                locale, "portal.inbox.started_on", day=summary.started_on.isoformat()
            )
            texts[str(n)] = str(escape(text))
    # One pass over the rendered list: a label's own text is never searched for another row's slot.
    filled = LABEL_SLOT.sub(lambda slot: texts.get(slot.group(1), ""), str(body))
    body = Markup(filled)  # noqa: S704 - rendered autoescaped, labels escaped above
    return render(request, "inbox.html", account=account, organisation=org, page="inbox", body=body)


#: The rendered list (without labels) is kept this long per counsellor, organisation, filter and state of the list.
INBOX_PAGES_TTL = 5.0


LABEL_SLOT = re.compile("\x00label:([0-9]+)\x00")


def _label_slot(n: int) -> str:
    """Where the n-th row's label goes in the rendered list."""
    return f"\x00label:{n}\x00"


# -- unlocking -----------------------------------------------------------------------------------------------
def _set_unlock_cookie(request: web.Request, response: web.StreamResponse, ticket: InboxUnlock) -> None:
    inbox = inbox_of(request)
    value = base64.urlsafe_b64encode(ticket.unlock_id.bytes + ticket.key.reveal()).decode("ascii")
    response.set_cookie(
        inbox.cookie,
        value,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=inbox.secure,
        max_age=int(inbox.lifetime.total_seconds()),
    )


async def _open_key(
    inbox: Inbox,
    audit: AuditTrail,
    account: Account,
    org: Organisation,
    passphrase: Secret[str],
    ticket: InboxUnlock,
) -> Outcome:
    """The slow part of unlocking, run as a task: Argon2id, then the unlock row under the browser's ticket."""
    counsellor_id = account.counsellor_id
    if counsellor_id is None:
        return Outcome.NO_KEY
    try:
        vault = await inbox.channel.store.vault(counsellor_id)
    except NotFoundError:
        return Outcome.NO_KEY
    try:
        async with inbox.unlocking:
            key = await asyncio.to_thread(
                unlock_counsellor_key, counsellor_id, vault.wrapped_private, passphrase
            )
    except SecurityError:
        log.debug("inbox: unlock refused")  # debug only: a line with a time would say when the inbox was used
        return Outcome.WRONG
    shared = await inbox.channel.share_with_colleagues(key)
    if shared:
        log.debug("inbox: conversation keys shared with co-counsellors", count=shared)
    await inbox.channel.open_inbox(key, inbox.lifetime, ticket)
    await audit.record(account.id, AuditAction.UNLOCKED, org.id, "inbox")
    return Outcome.OPENED


def _forget_done(inbox: Inbox) -> None:
    """Unlocks nobody came back for (a closed tab): dropped once finished, so the map stays small."""
    for unlock_id in [u for u, task in inbox.pending.items() if task.done()]:
        task = inbox.pending.pop(unlock_id)
        if not task.cancelled() and task.exception() is not None:
            log_failure(log, "inbox: an unlock failed")


async def unlock(request: web.Request) -> web.StreamResponse:
    account, org = await _context(request)
    inbox = inbox_of(request)
    form = await request.post()
    following = _next_conversation(form.get("next"))
    here = url_for(request, "inbox", org=org.slug)
    if following is not None:
        here = f"{here}?next={following}"
    if account.counsellor_id is None:
        raise again(request, here, Draft("portal.inbox.no_key", 403))
    passphrase = form.get("passphrase")
    wrong = Draft("portal.inbox.wrong_passphrase", 400)
    if not isinstance(passphrase, str) or not passphrase or len(passphrase) > MAX_PASSPHRASE:
        raise again(request, here, wrong)
    if not inbox.limiter.hit(b"unlock:" + account.counsellor_id.bytes, UNLOCK_TRIES, UNLOCK_WINDOW_S):
        raise again(request, here, Draft("portal.inbox.too_many", 429))
    _forget_done(inbox)
    ticket = InboxUnlock(UUID(bytes=secrets.token_bytes(16), version=4), Secret(secrets.token_bytes(32)))
    inbox.pending[ticket.unlock_id] = asyncio.create_task(
        _open_key(
            inbox, request.config_dict[CONSOLE].services.audit, account, org, Secret(passphrase), ticket
        )
    )
    waiting = url_for(request, "inbox_unlocking", org=org.slug)
    if following is not None:
        waiting = f"{waiting}?next={following}"
    response = web.HTTPSeeOther(waiting)
    _set_unlock_cookie(request, response, ticket)
    raise response


async def unlocking_page(request: web.Request) -> web.StreamResponse:
    """While the key opens: a page that says so and refreshes itself; then on to the inbox (or the refusal)."""
    account, org = await _context(request)
    inbox = inbox_of(request)
    following = _next_conversation(request.query.get("next"))
    done = conversation_url(request, org, following) if following else url_for(request, "inbox", org=org.slug)
    back = url_for(request, "inbox", org=org.slug) + (f"?next={following}" if following else "")
    cookie = read_cookie(request)
    if cookie is None:
        raise web.HTTPSeeOther(back)
    task = inbox.pending.get(cookie.unlock_id)
    if task is not None and task.done():
        inbox.pending.pop(cookie.unlock_id, None)
        outcome = Outcome.WRONG if task.cancelled() or task.exception() is not None else task.result()
        if outcome is not Outcome.OPENED:
            error = "portal.inbox.no_key" if outcome is Outcome.NO_KEY else "portal.inbox.wrong_passphrase"
            response = again(request, back, Draft(error, 403 if outcome is Outcome.NO_KEY else 400))
            response.del_cookie(inbox.cookie, path="/")
            raise response
    if (task is None or task.done()) and await unlocked_key(request, account) is not None:
        raise web.HTTPSeeOther(done)
    rounds = _rounds(request.query.get("n"))
    if task is None and rounds >= UNLOCK_WAIT_ROUNDS:
        response = again(request, back, Draft("console.inbox.unlock_lost", 400))
        response.del_cookie(inbox.cookie, path="/")
        raise response
    refresh = request.rel_url.update_query(n=str(rounds + 1))
    return render(
        request,
        "inbox_unlocking.html",
        account=account,
        organisation=org,
        page="inbox",
        refresh_url=str(refresh),
        refresh_s=REFRESH_S,
    )


def _rounds(value: str | None) -> int:
    with contextlib.suppress(TypeError, ValueError):
        return max(0, min(int(value or 0), UNLOCK_WAIT_ROUNDS))
    return 0


async def lock(request: web.Request) -> web.StreamResponse:
    _account, org = await _context(request)
    response = web.HTTPSeeOther(url_for(request, "inbox", org=org.slug))
    await lock_on_sign_out(request, response)
    raise response


async def lock_on_sign_out(request: web.Request, response: web.StreamResponse) -> None:
    """Lock this browser's inbox: the unlock row goes, so a copy of the cookie opens nothing any more."""
    inbox = request.config_dict.get(INBOX)
    if inbox is None:
        return
    cookie = read_cookie(request)
    if cookie is not None:
        task = inbox.pending.pop(cookie.unlock_id, None)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task  # an unlock still under way would otherwise write its row after the lock
        await inbox.channel.close_inbox(cookie.unlock_id)
    response.del_cookie(inbox.cookie, path="/")


# -- one conversation ----------------------------------------------------------------------------------------
def _labels(request: web.Request) -> dict[str, dict[str, str]]:
    taxonomy = request.config_dict[CONSOLE].services.content.catalog.taxonomy
    locale = request_locale(request)
    return {
        "categories": {i.id: i.label.in_locale(locale) for i in taxonomy.categories},
        "contact_types": {i.id: i.label.in_locale(locale) for i in taxonomy.contact_types},
        "follow_ups": {i.id: i.label.in_locale(locale) for i in taxonomy.follow_ups},
    }


async def _thread_page(
    request: web.Request,
    account: Account,
    org: Organisation,
    key: UnlockedCounsellorKey,
    view: CounsellorView,
    *,
    status: int = 200,
    error: str | None = None,
    draft: str = "",
    label_draft: str | None = None,
) -> web.StreamResponse:
    channel = inbox_of(request).channel
    conversation_label: str | None = None
    summary = view.summary
    thread: Thread | None = None
    try:
        conversation_key = key.open_share(view.share, conversation_id=summary.id)
        thread = await channel.service.open_thread(
            summary, view.messages, conversation_key, Author.COUNSELLOR
        )
        shares = (
            {}
            if view.label_key_share is None
            else {label_key_id(org.id, summary.chosen_counsellor): view.label_key_share}
        )
        conversation_label = channel.labels.reader(key, shares).label(
            summary, conversation_key=conversation_key
        )
    except (DamagedMessageError, SecurityError):
        log.warning("inbox: a conversation did not open (damaged or tampered)")
        thread = None
        status, error = 500, "portal.inbox.damaged"
    today = today_in(channel.clock)
    clear = {
        "organisation": org,
        "summary": summary,
        "labels": _labels(request),
        "duties": summary.whistleblowing.due(today) if summary.whistleblowing else [],
        "today": today,
        "whistleblowing_id": WHISTLEBLOWING_FOLLOW_UP,
    }
    return render(
        request,
        "inbox_conversation.html",
        status=status,
        account=account,
        page="inbox",
        thread=thread,
        error=error,
        draft=draft,
        conversation_label=conversation_label if label_draft is None else label_draft,
        sections=CONVERSATION_SECTIONS,
        drawn=await _sections_in_the_clear(request, clear),
        **clear,
    )


#: Sections drawn only from what is stored in the clear (the conversation's summary, the organisation, the day):
#: rendered once per state of the conversation and language, and shared for a few seconds. The others show what
#: was opened for this request and are rendered by it alone (DESIGN §4.3).
CLEAR_SECTIONS: tuple[str, ...] = ("clock", "classify", "status")
CLEAR_SECTIONS_TTL = 5.0


async def _sections_in_the_clear(request: web.Request, clear: dict[str, object]) -> dict[str, Markup]:
    templates = request.config_dict[TEMPLATES]
    sections: Expiring[Fragment] = console_of(request).expiring("conversation_sections", CLEAR_SECTIONS_TTL)
    summary, org = clear["summary"], clear["organisation"]
    drawn = {}
    for name in CLEAR_SECTIONS:

        async def compute(name: str = name) -> Fragment:
            return templates.fragment(request, f"_conversation_{name}.html", **clear)

        key = (name, summary, org, clear["today"], request_locale(request))
        drawn[name] = (await sections.get_or_compute(key, compute)).fill(request)
    return drawn


async def conversation_page(request: web.Request) -> web.StreamResponse:
    """The thread, read in one session with the unlock row: whether this counsellor holds the conversation's key
    here is checked by the same read that loads it (`counsellor_view`), not by a query of its own."""
    account, org = await _context(request)
    conversation_id = conversation_id_of(request)
    channel = inbox_of(request).channel
    cookie = read_cookie(request)
    key, view = None, None
    if cookie is not None and account.counsellor_id is not None:
        read = await channel.store.counsellor_view(
            org.id, conversation_id, account.counsellor_id, cookie.unlock_id
        )
        key, view = await key_from_row(request, account, read.unlock), read.found
    if key is None:
        raise web.HTTPSeeOther(f"{url_for(request, 'inbox', org=org.slug)}?next={conversation_id}")
    if view is None:
        raise web.HTTPNotFound()
    draft = inbox_of(request).drafts.take(request.query.get("d"))
    if draft is not None:
        return await _thread_page(
            request,
            account,
            org,
            key,
            view,
            status=draft.status,
            error=draft.error,
            draft=draft.fields.get("text", ""),
            label_draft=draft.fields.get("label"),
        )
    return await _thread_page(request, account, org, key, view)


async def reply(request: web.Request) -> web.StreamResponse:
    account, org, _key, conversation_id = await open_conversation(request)
    form = await request.post()
    text = form.get("text")
    text = text if isinstance(text, str) else ""
    after = form.get("after")
    here = conversation_url(request, org, conversation_id)
    try:
        expected = int(after) if isinstance(after, str) else -1
        await inbox_of(request).channel.service.write(
            org.id, org.retention_days, conversation_id, Author.COUNSELLOR, text, expected
        )
    except (StaleWriteError, ValueError):
        raise again(request, here, Draft("portal.inbox.stale", 409, {"text": text})) from None
    except InvalidTextError:
        raise again(request, here, Draft("portal.error.text", 400, {"text": text})) from None
    except ConversationClosedError:
        raise again(request, here, Draft("portal.error.closed", 409, {"text": text})) from None
    await _audit(request, account, AuditAction.REPLIED, org)
    raise web.HTTPSeeOther(here)


async def label(request: web.Request) -> web.StreamResponse:
    """The counsellors' short label of a conversation, sealed under the label key of the counsellors who hold
    the conversation (it may say what it is about; see `bot.web.portal.labels`)."""
    account, org, key, conversation_id = await open_conversation(request)
    form = await request.post()
    value = form.get("label")
    value = value if isinstance(value, str) else ""
    here = conversation_url(request, org, conversation_id)
    try:
        await inbox_of(request).channel.labels.set(key, org.id, conversation_id, value)
    except InvalidTextError:
        raise again(request, here, Draft("console.inbox.label_too_long", 400, {"label": value})) from None
    await _audit(request, account, AuditAction.CONVERSATION_LABELLED, org)
    raise web.HTTPSeeOther(here)


async def classify(request: web.Request) -> web.StreamResponse:
    account, org, _key, conversation_id = await open_conversation(request)
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
    channel = inbox_of(request).channel
    await channel.store.classify(org.id, conversation_id, classification, today_in(channel.clock))
    await _audit(request, account, AuditAction.CLASSIFIED, org)
    raise web.HTTPSeeOther(conversation_url(request, org, conversation_id))


async def set_status(request: web.Request) -> web.StreamResponse:
    account, org, _key, conversation_id = await open_conversation(request)
    form = await request.post()
    status = Status.CLOSED if form.get("status") == Status.CLOSED.value else Status.OPEN
    await inbox_of(request).channel.store.set_status(org.id, conversation_id, status)
    await _audit(request, account, AuditAction.CONVERSATION_STATUS, org)
    raise web.HTTPSeeOther(conversation_url(request, org, conversation_id))


async def whistleblowing(request: web.Request) -> web.StreamResponse:
    account, org, _key, conversation_id = await open_conversation(request)
    form = await request.post()
    channel = inbox_of(request).channel
    today = today_in(channel.clock)
    duty = form.get("duty")
    await channel.store.record_whistleblowing(
        org.id,
        conversation_id,
        acknowledged_on=today if duty == "acknowledge" else None,
        feedback_on=today if duty == "feedback" else None,
        retention_days=org.retention_days,
    )
    await _audit(request, account, AuditAction.WHISTLEBLOWING_DUTY, org)
    raise web.HTTPSeeOther(conversation_url(request, org, conversation_id))

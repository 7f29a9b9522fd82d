"""The practice-wide library (write a column or reminder once, add it to several organisations, publish it now
or at one local time in each) and each organisation's own code of conduct (a link or an uploaded PDF, served by
vipbot at /conduct/<token>.pdf)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.web_request import FileField

from bot.domain.accounts import Account, Role
from bot.domain.conduct import ConductProblem, document_problem, url_problem
from bot.domain.outreach import Audience, AudienceError, What
from bot.domain.tenancy import Organisation
from bot.errors import ConflictError, NotFoundError
from bot.storage.console_content import KINDS, OWN_PREFIX
from bot.storage.library import PracticeItem, SqlConduct, SqlPracticeLibrary
from bot.web.console.auth import console_of, organisation_for, require
from bot.web.console.pages_auth import see_other
from bot.web.console.pages_content import FIELDS, Form, check, draft_of, read_form
from bot.web.shared.templates import render, translate
from bot.web.shared.urls import url_for
from bot.wiring import Services

# -- the code of conduct ---------------------------------------------------------------------------------------


def conduct_store(request: web.Request) -> SqlConduct:
    return SqlConduct(console_of(request).services.sessions)


def _contenturl_for(request: web.Request, organisation: Organisation, **query: str) -> str:
    target = str(request.app.router["content"].url_for(org=organisation.slug))
    return target + ("?" + urlencode(query) if query else "") + "#conduct"


async def conduct_save(request: web.Request) -> web.StreamResponse:
    """A link, or "remove"; a PDF comes through `conduct_upload`."""
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    store, now = conduct_store(request), console_of(request).now()
    if form.get("remove"):
        await store.clear(organisation.id)
        return see_other(_contenturl_for(request, organisation))
    url = str(form.get("url") or "").strip()
    problem = url_problem(url)
    if problem is not None:
        return see_other(_contenturl_for(request, organisation, conduct_problem=problem.value))
    await store.set_url(organisation.id, url, now)
    return see_other(_contenturl_for(request, organisation, conduct_saved="1"))


async def conduct_upload(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    upload = form.get("document")
    data = upload.file.read() if isinstance(upload, FileField) else b""
    problem = document_problem(data)
    if problem is not None:
        return see_other(_contenturl_for(request, organisation, conduct_problem=problem.value))
    name = unquote(upload.filename) if isinstance(upload, FileField) else ""  # some clients percent-encode it
    await conduct_store(request).set_document(organisation.id, data, name, console_of(request).now())
    return see_other(_contenturl_for(request, organisation, conduct_saved="1"))


async def conduct_context(request: web.Request, organisation: Organisation) -> dict[str, Any]:
    """What the content page shows about the organisation's code of conduct."""
    conduct = await conduct_store(request).get(organisation.id)
    problem = request.query.get("conduct_problem")
    return {
        "conduct": conduct,
        "conduct_link": conduct.link(console_of(request).services.settings.public_base_url)
        if conduct
        else None,
        "conduct_problem": problem if problem in {p.value for p in ConductProblem} else None,
        "conduct_saved": "conduct_saved" in request.query,
    }


def public_document(services: Services) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """GET /conduct/{token}.pdf on the service itself: no sign-in (employees open it from Slack or Teams)."""

    async def serve(request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if not token.endswith(".pdf"):
            raise web.HTTPNotFound()
        found = await SqlConduct(services.sessions).document(token.removesuffix(".pdf"))
        if found is None:
            raise web.HTTPNotFound()
        data, _name = found
        return web.Response(
            body=data,
            content_type="application/pdf",
            headers={
                "Content-Disposition": 'inline; filename="gedragscode.pdf"',
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox",
                "Cache-Control": "public, max-age=300",
                "Referrer-Policy": "no-referrer",
            },
        )

    return serve


# -- the practice-wide library ---------------------------------------------------------------------------------

PRACTICE_SCHEDULE_PREFIX = "praktijk-"  # schedules made from the practice library, one per organisation


def library_store(request: web.Request) -> SqlPracticeLibrary:
    return SqlPracticeLibrary(console_of(request).services.sessions)


async def _reachable(request: web.Request, account: Account) -> list[Organisation]:
    organisations = await console_of(request).services.organisations.list_organisations()
    return [o for o in organisations if account.can_see(o.id)]


def _values_of(item: PracticeItem) -> dict[str, str]:
    return {
        "slug": item.slug,
        "theme": item.theme,
        "reading_minutes": str(item.reading_minutes),
        "title_nl": item.title.nl,
        "title_en": item.title.en,
        "summary_nl": item.summary.nl,
        "summary_en": item.summary.en,
        "body_nl": item.body.nl,
        "body_en": item.body.en,
    }


async def library_list(request: web.Request) -> web.StreamResponse:
    account = await require(request, Role.COUNSELLOR)
    return render(
        request, "library.html", account=account, page="library", items=await library_store(request).items()
    )


async def _editor(
    request: web.Request, account: Account, form: Form, item: PracticeItem | None, status: int = 200
) -> web.Response:
    organisations = await _reachable(request, account)
    copies = await library_store(request).copies(item.id) if item else {}
    keys = ("sent", "queued", "scheduled", "exists", "empty", "added")
    outcome = {key: request.query.get(key, "").split(",") for key in keys}
    by_slug = {o.slug: o for o in organisations}
    return render(
        request,
        "library_edit.html",
        status=status,
        account=account,
        page="library",
        form=form,
        item=item,
        organisations=organisations,
        copies={o.id: f"{OWN_PREFIX}{copies[o.id]}" for o in organisations if o.id in copies},
        outcome={key: [by_slug[s] for s in slugs if s in by_slug] for key, slugs in outcome.items()},
        saved="saved" in request.query,
        problem=request.query.get("problem"),
    )


async def library_new(request: web.Request) -> web.StreamResponse:
    account = await require(request, Role.COUNSELLOR)
    kind = request.query.get("kind", "column")
    if kind not in KINDS:
        raise web.HTTPNotFound()
    form = Form(kind=kind, values=dict.fromkeys(FIELDS, ""), problems=[])
    form.values["reading_minutes"] = "2"
    return await _editor(request, account, form, None)


async def _item(request: web.Request) -> PracticeItem:
    try:
        item_id = UUID(request.match_info["item"])
    except ValueError:
        raise web.HTTPNotFound() from None
    item = await library_store(request).get(item_id)
    if item is None:
        raise web.HTTPNotFound()
    return item


async def library_edit(request: web.Request) -> web.StreamResponse:
    account = await require(request, Role.COUNSELLOR)
    item = await _item(request)
    return await _editor(request, account, Form(kind=item.kind, values=_values_of(item), problems=[]), item)


async def library_save(request: web.Request) -> web.StreamResponse:
    account = await require(request, Role.COUNSELLOR)
    item = await _item(request) if "item" in request.match_info else None
    kind = item.kind if item else request.query.get("kind", "column")
    if kind not in KINDS:
        raise web.HTTPNotFound()
    t = translate(request)
    form = check(read_form(await request.post(), kind), t)
    if form.problems:
        return await _editor(request, account, form, item, status=400)
    try:
        saved = await library_store(request).save(
            draft_of(form), console_of(request).now(), account.id, item.id if item else None
        )
    except ConflictError:
        form.problems.append(t("console.content.problem.slug_taken"))
        return await _editor(request, account, form, item, status=400)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    if item is None:
        return see_other(url_for(request, "practice_item", item=str(saved.id)) + "?saved=1")
    # every organisation's copy was rewritten: their cached pages show it at once
    for organisation_id in await library_store(request).copies(saved.id):
        console_of(request).bump(organisation_id)
    return see_other(url_for(request, "practice_item", item=str(saved.id)) + "?saved=1")


async def library_delete(request: web.Request) -> web.StreamResponse:
    """Removes the item from every organisation that carries it: only with the box ticked that says so."""
    await require(request, Role.COUNSELLOR)
    item = await _item(request)
    if not (await request.post()).get("confirm"):
        return see_other(url_for(request, "practice_item", item=str(item.id)) + "?problem=confirm")
    for organisation_id in await library_store(request).copies(item.id):
        console_of(request).bump(organisation_id)
    await library_store(request).remove(item.id)
    return see_other(url_for(request, "practice"))


def _local_moment(value: str, organisation: Organisation) -> datetime | None:
    """ "2026-03-02T09:30" as that wall-clock time in the organisation's own time zone."""
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return None
    return naive.replace(tzinfo=ZoneInfo(organisation.timezone))


async def library_organisations(request: web.Request) -> web.StreamResponse:
    """Add the item to the chosen organisations and, when asked, send it now or at one local time in each."""
    account = await require(request, Role.COUNSELLOR)
    item = await _item(request)
    form = await request.post()
    chosen = {str(v) for v in form.getall("organisation", [])}
    organisations = [o for o in await _reachable(request, account) if o.slug in chosen]
    target = url_for(request, "practice_item", item=str(item.id))
    if not organisations:
        return see_other(target + "?problem=organisations")
    action = str(form.get("action") or "add")
    if action == "every":
        return await _schedule_everywhere(
            request, account, item, organisations, str(form.get("recurrence") or "")
        )
    moments: dict[UUID, datetime] = {}
    if action == "at":
        now = console_of(request).now()
        for organisation in organisations:
            moment = _local_moment(str(form.get("at") or ""), organisation)
            if moment is None or moment <= now:
                return see_other(target + "?problem=moment")
            moments[organisation.id] = moment
    services = console_of(request).services
    copies = await library_store(request).add_to(
        item.id, [o.id for o in organisations], console_of(request).now(), account.id
    )
    outcome: dict[str, list[str]] = {"added": [], "sent": [], "queued": [], "empty": []}
    what = What.COLUMN if item.kind == "column" else What.REMINDER
    from bot.web.console.outreach_bridge import publish

    for organisation in organisations:
        console_of(request).bump(organisation.id)
        if action not in {"now", "at"}:
            outcome["added"].append(organisation.slug)
            continue
        try:
            await publish(
                services,
                organisation,
                what,
                f"{OWN_PREFIX}{copies[organisation.id]}",
                Audience(groups=(organisation.slug,)),
                moments.get(organisation.id),
            )
        except AudienceError:
            outcome["empty"].append(organisation.slug)
            continue
        outcome["queued" if action == "at" else "sent"].append(organisation.slug)
    query = urlencode({k: ",".join(v) for k, v in outcome.items() if v})
    return see_other(target + ("?" + query if query else ""))


SCHEDULE_GRACE_MINUTES = 120  # as the console's own schedules: a post missed by a restart still goes out


async def _schedule_everywhere(
    request: web.Request,
    account: Account,
    item: PracticeItem,
    organisations: list[Organisation],
    rule_text: str,
) -> web.StreamResponse:
    """One regular schedule per organisation, each in its own time zone and language and under its own quiet
    hours and holidays; the rule is checked for each with the same checks as `vipbot schedule add`."""
    from bot.domain.recurrence import WhenBlocked
    from bot.usecases.schedules import ScheduleRefusedError, check_rule, first_post
    from bot.web.console.outreach_bridge import outreach_of
    from scheduler.materialiser import anchor_today

    console = console_of(request)
    target = url_for(request, "practice_item", item=str(item.id))
    outreach = outreach_of(console.services)
    now = console.now()
    try:
        rule = check_rule(rule_text.strip(), None, SCHEDULE_GRACE_MINUTES)
        for organisation in organisations:
            calendar = await outreach.schedules.calendar(organisation.id)
            anchor = anchor_today(now, organisation.timezone)
            first_post(rule, organisation.timezone, anchor, calendar, WhenBlocked.DEFER, now)
    except ScheduleRefusedError as exc:
        return see_other(target + "?" + urlencode({"problem": "recurrence", "code": exc.problem.value}))
    copies = await library_store(request).add_to(item.id, [o.id for o in organisations], now, account.id)
    what = What.COLUMN if item.kind == "column" else What.REMINDER
    outcome: dict[str, list[str]] = {"scheduled": [], "exists": []}
    for organisation in organisations:
        console.bump(organisation.id)
        try:
            await outreach.schedules.add(
                organisation,
                name=f"{PRACTICE_SCHEDULE_PREFIX}{item.slug}"[:60],
                what=what,
                item_id=f"{OWN_PREFIX}{copies[organisation.id]}",
                audience=Audience(groups=(organisation.slug,)),
                recurrence=rule.text,
                anchor=anchor_today(now, organisation.timezone),
                timezone=None,  # the organisation's own
                locale=None,  # the organisation's own
                when_blocked=WhenBlocked.DEFER,
                grace_minutes=SCHEDULE_GRACE_MINUTES,
                now=now,
            )
        except ConflictError:
            outcome["exists"].append(organisation.slug)
            continue
        outcome["scheduled"].append(organisation.slug)
    query = urlencode({k: ",".join(v) for k, v in outcome.items() if v})
    return see_other(target + ("?" + query if query else ""))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/library", library_list, name="practice")
    app.router.add_get("/library/new", library_new, name="practice_new")
    app.router.add_post("/library/new", library_save)
    app.router.add_get("/library/{item}", library_edit, name="practice_item")
    app.router.add_post("/library/{item}", library_save)
    app.router.add_post("/library/{item}/delete", library_delete, name="practice_delete")
    app.router.add_post("/library/{item}/organisations", library_organisations, name="practice_organisations")
    app.router.add_post("/o/{org}/conduct", conduct_save, name="conduct_save")
    app.router.add_post("/o/{org}/conduct/upload", conduct_upload, name="conduct_upload")

"""Content: the bundled library and the organisation's own columns and reminders, with Slack and Teams previews."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aiohttp import web
from multidict import MultiDictProxy

from bot.catalog.markdown import markdown_problems
from bot.domain.accounts import Role
from bot.domain.content import LOCALES, Column, Reminder, Text, pick_locale
from bot.domain.delivery import ColumnPost, Post, ReminderPost, portal_link
from bot.domain.tenancy import Organisation, slugify
from bot.errors import ConflictError, NotFoundError
from bot.storage.console_content import KINDS, ItemDraft, OwnItem, SqlConsoleContent
from bot.web.console.auth import console_of, organisation_for
from bot.web.console.pages_auth import see_other
from bot.web.console.preview import preview
from bot.web.shared.templates import render, request_locale
from bot.web.shared.urls import url_for

TITLE_MAX = 150
SUMMARY_MAX = 300
BODY_MAX = 6000
FIELDS = (
    "slug",
    "theme",
    "reading_minutes",
    "title_nl",
    "title_en",
    "summary_nl",
    "summary_en",
    "body_nl",
    "body_en",
)


def content_store(request: web.Request) -> SqlConsoleContent:
    return SqlConsoleContent(console_of(request).services.sessions)


@dataclass
class Form:
    kind: str
    values: dict[str, str]
    problems: list[str]


def _value(form: MultiDictProxy[Any], name: str, limit: int) -> str:
    value = form.get(name)
    return value.replace("\r\n", "\n").strip()[:limit] if isinstance(value, str) else ""


def read_form(form: MultiDictProxy[Any], kind: str) -> Form:
    limits = {"body_nl": BODY_MAX, "body_en": BODY_MAX, "summary_nl": SUMMARY_MAX, "summary_en": SUMMARY_MAX}
    values = {name: _value(form, name, limits.get(name, 200)) for name in FIELDS}
    return Form(kind=kind, values=values, problems=[])


def check(form: Form, t: Any) -> Form:
    """Validate with the same rules as content files (the Markdown subset), plus lengths."""
    v = form.values
    problems: list[str] = []
    if not v["title_nl"]:
        problems.append(t("console.content.problem.title_missing"))
    if not v["body_nl"]:
        problems.append(t("console.content.problem.body_missing"))
    for lang in LOCALES:
        if len(v[f"title_{lang}"]) > TITLE_MAX:
            problems.append(t("console.content.problem.title_long", max=TITLE_MAX))
        for line, code, _english in markdown_problems(v[f"body_{lang}"]):
            problems.append(
                t(
                    "console.content.problem.markdown",
                    language=lang.upper(),
                    line=line,
                    message=t(f"console.content.markdown.{code.value}"),
                )
            )
    if form.kind == "column":
        minutes = v["reading_minutes"] or "2"
        if not minutes.isdigit() or not 1 <= int(minutes) <= 30:
            problems.append(t("console.content.problem.minutes"))
    form.problems = problems
    return form


def draft_of(form: Form) -> ItemDraft:
    v = form.values

    def both(name: str) -> Text:
        # An empty English field stays empty: it falls back to the Dutch when sent, so editing the Dutch later
        # reaches English readers too (a copy made here would go stale).
        return Text(v[f"{name}_nl"], v[f"{name}_en"])

    minutes = v["reading_minutes"]
    return ItemDraft(
        kind=form.kind,
        slug=slugify(v["slug"] or v["title_nl"]),
        theme=slugify(v["theme"]) if v["theme"] else "",
        reading_minutes=int(minutes) if minutes.isdigit() else 2,
        title=both("title"),
        summary=both("summary"),
        body=both("body"),
    )


def post_of(form: Form, organisation: Organisation, portal_base: str) -> Post:
    draft = draft_of(form)
    portal = portal_link(portal_base, organisation.slug)
    if form.kind == "column":
        column = Column(
            id="preview",
            theme=draft.theme or "own",
            reading_minutes=draft.reading_minutes,
            title=draft.title,
            summary=draft.summary,
            body=draft.body,
        )
        return ColumnPost(column=column, portal_url=portal)
    reminder = Reminder(id="preview", topic=draft.theme or "own", title=draft.title, body=draft.body)
    return ReminderPost(reminder=reminder, portal_url=portal)


def _previews(request: web.Request, form: Form, organisation: Organisation, locale: str) -> dict[str, Any]:
    if form.problems or not form.values["title_nl"] or not form.values["body_nl"]:
        return {"slack": None, "teams": None}
    services = console_of(request).services
    post = post_of(form, organisation, services.settings.public_portal_url)
    return preview(post, locale, services.platforms)


def _values_of(item: OwnItem) -> dict[str, str]:
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


async def content_list(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    from bot.storage.library import SqlPracticeLibrary
    from bot.web.console.pages_library import conduct_context

    services = console_of(request).services
    catalog = services.content.catalog
    return render(
        request,
        "content.html",
        account=account,
        organisation=organisation,
        page="content",
        own=await content_store(request).items(organisation.id),
        origins=await SqlPracticeLibrary(services.sessions).origins(organisation.id),
        columns=catalog.columns,
        reminders=catalog.reminders,
        **await conduct_context(request, organisation),
    )


def _editor(
    request: web.Request,
    *,
    account: Any,
    organisation: Organisation,
    form: Form,
    item: OwnItem | None,
    status: int = 200,
    saved: bool = False,
    practice_item: UUID | None = None,
) -> web.Response:
    preview_locale = pick_locale(request.query.get("preview") or request_locale(request))
    return render(
        request,
        "content_edit.html",
        status=status,
        account=account,
        organisation=organisation,
        page="content",
        form=form,
        item=item,
        saved=saved,
        practice_item=practice_item,
        preview_locale=preview_locale,
        previews=_previews(request, form, organisation, preview_locale),
    )


async def content_new(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    kind = request.query.get("kind", "column")
    if kind not in KINDS:
        raise web.HTTPNotFound()
    form = Form(kind=kind, values=dict.fromkeys(FIELDS, ""), problems=[])
    form.values["reading_minutes"] = "2"
    return _editor(request, account=account, organisation=organisation, form=form, item=None)


async def _own(request: web.Request, organisation: Organisation) -> OwnItem:
    try:
        item_uuid = UUID(request.match_info["item"])
    except ValueError:
        raise web.HTTPNotFound() from None
    item = await content_store(request).get(organisation.id, item_uuid)
    if item is None:
        raise web.HTTPNotFound()
    return item


async def content_edit(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    item = await _own(request, organisation)
    form = Form(kind=item.kind, values=_values_of(item), problems=[])
    return _editor(
        request,
        account=account,
        organisation=organisation,
        form=form,
        item=item,
        saved="saved" in request.query,
        practice_item=await _practice_origin(request, organisation, item),
    )


async def _practice_origin(request: web.Request, organisation: Organisation, item: OwnItem) -> UUID | None:
    """The practice item this own item carries (it is edited there, once for every organisation)."""
    from bot.storage.library import SqlPracticeLibrary

    origins = await SqlPracticeLibrary(console_of(request).services.sessions).origins(organisation.id)
    return origins.get(item.id)


async def content_save(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    console = console_of(request)
    item: OwnItem | None = None
    if "item" in request.match_info:
        item = await _own(request, organisation)
        kind = item.kind
        origin = await _practice_origin(request, organisation, item)
        if origin is not None:  # written once for the practice: edited in the practice library, not here
            return see_other(url_for(request, "practice_item", item=str(origin)))
    else:
        kind = request.query.get("kind", "column")
        if kind not in KINDS:
            raise web.HTTPNotFound()
    from bot.web.shared.templates import translate

    t = translate(request)
    form = check(read_form(await request.post(), kind), t)
    if form.problems:
        return _editor(request, account=account, organisation=organisation, form=form, item=item, status=400)
    try:
        saved = await content_store(request).save(
            organisation.id, draft_of(form), console.now(), account.id, item.id if item else None
        )
    except ConflictError:
        form.problems.append(t("console.content.problem.slug_taken"))
        return _editor(request, account=account, organisation=organisation, form=form, item=item, status=400)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    return see_other(url_for(request, "content_edit", org=organisation.slug, item=str(saved.id)) + "?saved=1")


async def content_delete(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    item = await _own(request, organisation)
    await content_store(request).remove(organisation.id, item.id)
    return see_other(url_for(request, "content", org=organisation.slug))


async def content_preview(request: web.Request) -> web.StreamResponse:
    """The live preview: the editor's fields in, the Slack and Teams previews out (an HTML fragment)."""
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form_data = await request.post()
    kind = form_data.get("kind")
    if kind not in KINDS:
        raise web.HTTPBadRequest()
    from bot.web.shared.templates import translate

    form = check(read_form(form_data, str(kind)), translate(request))
    locale_value = form_data.get("preview_locale")
    locale = pick_locale(locale_value if isinstance(locale_value, str) else None)
    return render(
        request,
        "content_preview.html",
        form=form,
        previews=_previews(request, form, organisation, locale),
    )


async def library_item(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    services = console_of(request).services
    catalog = services.content.catalog
    kind, item_id = request.match_info["kind"], request.match_info["item"]
    portal = portal_link(services.settings.public_portal_url, organisation.slug)
    post: Post
    if kind == "column" and (column := catalog.column(item_id)) is not None:
        post, title, body = ColumnPost(column=column, portal_url=portal), column.title, column.body
    elif kind == "reminder" and (reminder := catalog.reminder(item_id)) is not None:
        post, title, body = ReminderPost(reminder=reminder, portal_url=portal), reminder.title, reminder.body
    else:
        raise web.HTTPNotFound()
    locale = pick_locale(request.query.get("preview") or request_locale(request))
    return render(
        request,
        "content_library_item.html",
        account=account,
        organisation=organisation,
        page="content",
        kind=kind,
        item_id=item_id,
        title=title.in_locale(locale),
        body=body.in_locale(locale),
        preview_locale=locale,
        previews=preview(post, locale, services.platforms),
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/o/{org}/content", content_list, name="content")
    app.router.add_get("/o/{org}/content/new", content_new, name="content_new")
    app.router.add_post("/o/{org}/content/new", content_save)
    app.router.add_post("/o/{org}/content/preview", content_preview, name="content_preview")
    app.router.add_get("/o/{org}/content/own/{item}", content_edit, name="content_edit")
    app.router.add_post("/o/{org}/content/own/{item}", content_save)
    app.router.add_post("/o/{org}/content/own/{item}/delete", content_delete, name="content_delete")
    app.router.add_get("/o/{org}/content/library/{kind}/{item}", library_item, name="library_item")

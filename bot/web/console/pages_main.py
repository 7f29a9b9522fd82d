"""Home, organisations (groups, channel bindings, connections, people) and accounts."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from sqlmodel import col, func, select

from bot.domain.accounts import Account, Role
from bot.domain.content import LOCALES
from bot.domain.tenancy import CounsellorRole, GroupKind, Organisation, Platform, slugify
from bot.errors import ConflictError, NotFoundError
from bot.storage.tables import PlatformConnectionRow
from bot.usecases.audit import AuditAction
from bot.web.console.auth import (
    Console,
    console_of,
    current_account,
    forget_sessions,
    organisation_for,
    require,
)
from bot.web.console.cache import Expiring
from bot.web.console.channels import chosen, pick_value, platform_views
from bot.web.console.pages_auth import MAX_FIELD, see_other
from bot.web.shared.templates import render

FLASH = "flash"
ORGANISATION_LIST_TTL = 2.0


def url(request: web.Request, name: str, **parts: str) -> str:
    return str(request.app.router[name].url_for(**parts))


def field(form: object, name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value.strip()[:limit] if isinstance(value, str) else ""


async def visible_organisations(request: web.Request, account: Account) -> list[Organisation]:
    organisations = await console_of(request).services.organisations.list_organisations()
    return [o for o in organisations if account.can_see(o.id)]


async def all_organisations(console: Console) -> list[Organisation]:
    """Every organisation. The list changes rarely and the home page is the busiest page: kept for a moment.
    Callers filter it by what the account may see."""
    listed: Expiring[list[Organisation]] = console.expiring("organisation_list", ORGANISATION_LIST_TTL)
    return await listed.get_or_compute("all", console.services.organisations.list_organisations)


def forget_organisation_list(console: Console) -> None:
    """After an organisation was added, renamed or erased: the next page reads the list again."""
    console.expiring("organisation_list", ORGANISATION_LIST_TTL).pop("all")


async def settings_changed(request: web.Request, organisation: Organisation, what: str) -> None:
    """An audit entry for a change to an organisation's set-up (`what` names the part: groups, bindings, …)."""
    account = current_account(request)
    await console_of(request).services.audit.record(
        account.id if account else None, AuditAction.SETTINGS_CHANGED, organisation.id, what
    )


async def home(request: web.Request) -> web.StreamResponse:
    account = await require(request)
    if account.role is Role.VIEWER:
        organisations = await visible_organisations(request, account)
        if len(organisations) == 1:
            return see_other(url(request, "insights", org=organisations[0].slug))
    from bot.web.console.needs import home_needs

    everything = await all_organisations(console_of(request))
    organisations = [o for o in everything if account.can_see(o.id)]
    return render(
        request,
        "home.html",
        account=account,
        organisations=organisations,
        needs=await home_needs(request, account, organisations),
        page="home",
    )


async def organisation_new_form(request: web.Request) -> web.StreamResponse:
    account = await require(request, Role.ADMIN)
    settings = console_of(request).services.settings
    return render(
        request,
        "organisation_new.html",
        account=account,
        page="home",
        error=None,
        values={"name": "", "slug": "", "timezone": settings.default_timezone, "locale": "nl"},
    )


async def organisation_new_submit(request: web.Request) -> web.StreamResponse:
    account = await require(request, Role.ADMIN)
    console = console_of(request)
    form = await request.post()
    values = {k: field(form, k, 200) for k in ("name", "slug", "timezone", "locale")}
    error = None
    slug = slugify(values["slug"] or values["name"])
    if not values["name"]:
        error = "console.organisation.name_missing"
    elif values["locale"] not in LOCALES:
        error = "console.organisation.locale_unknown"
    else:
        try:
            ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            error = "console.organisation.timezone_unknown"
    if error is None:
        try:
            organisation = await console.services.organisations.add_organisation(
                values["name"],
                slug,
                values["timezone"],
                values["locale"],
                console.services.settings.retention_days,
            )
        except ConflictError:
            error = "console.organisation.slug_taken"
        else:
            forget_organisation_list(console)
            await console.services.audit.record(
                account.id, AuditAction.ORGANISATION_CREATED, organisation.id, "organisation"
            )
            if account.counsellor_id is not None:
                # An administrator who is also the counsellor (a one-person practice) serves what they add.
                from bot.storage.conversations import SqlConversationStore

                await SqlConversationStore(console.services.sessions).link_counsellor(
                    organisation.id, account.counsellor_id, CounsellorRole.PRIMARY
                )
            return see_other(url(request, "organisation", org=organisation.slug))
    return render(
        request, "organisation_new.html", status=400, account=account, page="home", error=error, values=values
    )


async def organisation_page(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    console = console_of(request)
    repo = console.services.organisations
    tree = await repo.group_tree(organisation.id)
    bindings = await repo.bindings(organisation.id)
    async with console.services.sessions() as session:
        connections = (
            await session.exec(
                select(PlatformConnectionRow).where(
                    col(PlatformConnectionRow.organisation_id) == organisation.id
                )
            )
        ).all()
    people = await console.accounts.accounts_of(organisation.id)
    all_counsellors = (
        [a for a in await console.accounts.list_accounts() if a.counsellor_id is not None]
        if account.role is Role.ADMIN
        else []
    )
    last_delivery = await _last_delivery(request, organisation.id)
    groups = []

    def visit(group_id: UUID, depth: int) -> None:
        group = next(g for g in tree.groups if g.id == group_id)
        groups.append((depth, group, [b for b in bindings if b.group_id == group.id]))
        for child in tree.children(group.id):
            visit(child.id, depth + 1)

    visit(tree.root.id, 0)
    workspace_ids = {p: [c.workspace_id for c in connections if c.platform == p.value] for p in Platform}
    pickers = await platform_views(request.app, console.services, organisation.id, workspace_ids)
    return render(
        request,
        "organisation.html",
        account=account,
        organisation=organisation,
        page="organisation",
        groups=groups,
        connections={p.value: [c for c in connections if c.platform == p.value] for p in Platform},
        last_delivery=last_delivery,
        people=people,
        assignable=[a for a in all_counsellors if organisation.id not in a.organisation_ids],
        kinds=[GroupKind.DEPARTMENT, GroupKind.TEAM],
        platforms=list(Platform),
        error=request.query.get("error"),
        pickers=pickers,
        space_names={
            (view.platform.value, s.space.workspace_id): s.space.name for view in pickers for s in view.spaces
        },
        pick_value=pick_value,
    )


async def _last_delivery(request: web.Request, organisation_id: UUID) -> dict[str, object] | None:
    """When something last went out for this organisation, per the outbox (if outreach is installed)."""
    try:
        from bot.storage.tables_outreach import OutreachDeliveryRow
    except ImportError:  # pragma: no cover - outreach not installed
        return None
    async with console_of(request).services.sessions() as session:
        sent_at = (
            await session.exec(
                select(func.max(OutreachDeliveryRow.sent_at)).where(
                    col(OutreachDeliveryRow.organisation_id) == organisation_id
                )
            )
        ).one()
    return {"sent_at": sent_at}


async def group_add(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    name, kind, parent = field(form, "name", 200), field(form, "kind"), field(form, "parent") or None
    target = url(request, "organisation", org=organisation.slug)
    if not name or kind not in {GroupKind.DEPARTMENT.value, GroupKind.TEAM.value}:
        return see_other(target + "?error=group")
    try:
        await console_of(request).services.organisations.add_group(
            organisation.id, name, GroupKind(kind), parent
        )
    except (ConflictError, NotFoundError, ValueError):
        return see_other(target + "?error=group")
    await settings_changed(request, organisation, "groups")
    return see_other(target)


async def group_remove_confirm(request: web.Request) -> web.StreamResponse:
    """The step before removing a group with everything under it: what exactly goes, and what stops reaching it."""
    from bot.web.console.outreach_bridge import outreach_of

    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    services = console_of(request).services
    tree = await services.organisations.group_tree(organisation.id)
    group = tree.by_slug(request.query.get("group", "")[:60])
    removable = [g for g in tree.groups if g.parent_id is not None]
    context: dict[str, Any] = {"group": None, "removable": removable}
    if group is not None and group.parent_id is not None:
        under = list(tree.descendants(group.id))
        doomed = {group.id, *(g.id for g in under)}
        slugs = {group.slug, *(g.slug for g in under)}
        bindings = [b for b in await services.organisations.bindings(organisation.id) if b.group_id in doomed]
        outreach = outreach_of(services)
        schedules = [
            s for s in await outreach.schedules.list_schedules(organisation) if slugs & set(s.audience.groups)
        ]
        now = console_of(request).now()
        sessions = [
            s
            for s, _n in await outreach.team_sessions.list_sessions(organisation.id)
            if s.ends_at > now and not s.cancelled and slugs & set(s.audience.groups)
        ]
        context = {
            "group": group,
            "under": under,
            "bindings": bindings,
            "schedules": schedules,
            "sessions": sessions,
            "removable": removable,
        }
    return render(
        request,
        "group_remove.html",
        account=account,
        organisation=organisation,
        page="organisation",
        **context,
    )


async def group_remove(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    target = url(request, "organisation", org=organisation.slug)
    slug = field(form, "group", 60)
    if not slug or slug == organisation.slug:
        return see_other(target + "?error=group")
    if field(form, "confirm") != "1":  # one click never removes: first the page that says what goes with it
        query = urlencode({"group": slug})
        return see_other(url(request, "group_remove", org=organisation.slug) + "?" + query)
    try:
        await console_of(request).services.organisations.remove_group(organisation.id, slug)
    except (ConflictError, NotFoundError):
        return see_other(target + "?error=group")
    await settings_changed(request, organisation, "groups")
    return see_other(target)


async def group_restructure(request: web.Request) -> web.StreamResponse:
    """Rename, move, merge or split a group: operations that keep its lineage (see docs/pulses.md)."""
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    target = url(request, "organisation", org=organisation.slug)
    slug, operation, other = field(form, "group", 60), field(form, "operation"), field(form, "target", 200)
    if not slug or not other or slug == organisation.slug:
        return see_other(target + "?error=group")
    repo = console_of(request).services.organisations
    now = console_of(request).services.clock.now()
    try:
        if operation == "rename":
            await repo.rename_group(organisation.id, slug, other)
        elif operation == "move":
            await repo.move_group(organisation.id, slug, other)
        elif operation == "merge":
            await repo.merge_groups(organisation.id, slug, other, now)
        elif operation == "split":
            await repo.split_group(organisation.id, slug, other, now)
        else:
            return see_other(target + "?error=group")
    except (ConflictError, NotFoundError):
        return see_other(target + "?error=group")
    await settings_changed(request, organisation, "groups")
    return see_other(target)


async def binding_add(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    target = url(request, "organisation", org=organisation.slug)
    platform, group = field(form, "platform"), field(form, "group")
    workspace, channel, name = (
        field(form, "workspace", 64),
        field(form, "channel", 200),
        field(form, "name", 200),
    )
    if field(form, "pick", 600):  # the picker: platform, workspace and channel as the platform listed them
        picked = await chosen(
            request.app,
            console_of(request).services,
            organisation.id,
            await _workspace_ids(request, organisation.id),
            field(form, "pick", 600),
        )
        if picked is None:
            return see_other(target + "?error=pick")
        picked_platform, workspace, channel, listed_name = picked
        platform, name = picked_platform.value, listed_name or ""
    if platform not in {p.value for p in Platform} or not (group and workspace and channel):
        return see_other(target + "?error=binding")
    try:
        await console_of(request).services.organisations.bind_channel(
            organisation.id, group, Platform(platform), workspace, channel, name or None
        )
    except (ConflictError, NotFoundError, ValueError):
        return see_other(target + "?error=binding")
    await settings_changed(request, organisation, "bindings")
    return see_other(target)


async def _workspace_ids(request: web.Request, organisation_id: UUID) -> dict[Platform, list[str]]:
    async with console_of(request).services.sessions() as session:
        rows = (
            await session.exec(
                select(PlatformConnectionRow).where(
                    col(PlatformConnectionRow.organisation_id) == organisation_id
                )
            )
        ).all()
    return {p: [r.workspace_id for r in rows if r.platform == p.value] for p in Platform}


async def binding_remove(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    platform, channel = field(form, "platform"), field(form, "channel", 200)
    if platform in {p.value for p in Platform}:
        with contextlib.suppress(NotFoundError):
            await console_of(request).services.organisations.unbind_channel(
                organisation.id, Platform(platform), channel
            )
    await settings_changed(request, organisation, "bindings")
    return see_other(url(request, "organisation", org=organisation.slug))


async def counsellor_assign(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.ADMIN)
    form = await request.post()
    try:
        await console_of(request).accounts.assign_counsellor(UUID(field(form, "account")), organisation.id)
    except (ValueError, NotFoundError):
        raise web.HTTPBadRequest() from None
    forget_sessions(request)
    await settings_changed(request, organisation, "counsellors")
    return see_other(url(request, "organisation", org=organisation.slug))


async def counsellor_unassign(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.ADMIN)
    form = await request.post()
    try:
        await console_of(request).accounts.unassign_counsellor(UUID(field(form, "account")), organisation.id)
    except (ValueError, NotFoundError):
        raise web.HTTPBadRequest() from None
    forget_sessions(request)
    await settings_changed(request, organisation, "counsellors")
    return see_other(url(request, "organisation", org=organisation.slug))


async def accounts_page(request: web.Request) -> web.StreamResponse:
    account = await require(request, Role.ADMIN)
    return await _accounts_render(request, account, link=None, error=None)


async def _accounts_render(
    request: web.Request, account: Account, *, link: str | None, error: str | None, status: int = 200
) -> web.Response:
    console = console_of(request)
    organisations = await console.services.organisations.list_organisations()
    return render(
        request,
        "accounts.html",
        status=status,
        account=account,
        page="accounts",
        accounts=await console.accounts.list_accounts(),
        invitations=await console.accounts.open_invitations(console.now()),
        organisations=organisations,
        organisation_names={o.id: o.name for o in organisations},
        roles=list(Role),
        link=link,
        error=error,
    )


async def invite_submit(request: web.Request) -> web.StreamResponse:
    account = await require(request, Role.ADMIN)
    console = console_of(request)
    form = await request.post()
    email, role_value, org_value = field(form, "email", 320), field(form, "role"), field(form, "organisation")
    if "@" not in email or role_value not in {r.value for r in Role}:
        return await _accounts_render(request, account, link=None, error="console.invite.invalid", status=400)
    role = Role(role_value)
    organisation_id: UUID | None = None
    if org_value:
        try:
            organisation_id = UUID(org_value)
        except ValueError:
            return await _accounts_render(
                request, account, link=None, error="console.invite.invalid", status=400
            )
    if role is Role.VIEWER and organisation_id is None:
        return await _accounts_render(
            request, account, link=None, error="console.invite.needs_org", status=400
        )
    if role is Role.ADMIN:
        organisation_id = None
    try:
        token = await console.accounts.invite(email, role, organisation_id, account.id, console.now())
    except ConflictError:
        return await _accounts_render(request, account, link=None, error="console.invite.exists", status=400)
    await console.services.audit.record(account.id, AuditAction.INVITED, organisation_id, role.value)
    base = console.services.settings.public_base_url
    link = base + url(request, "invitation", token=token)
    return await _accounts_render(request, account, link=link, error=None)


async def account_disable(request: web.Request) -> web.StreamResponse:
    account = await require(request, Role.ADMIN)
    form = await request.post()
    try:
        target = UUID(field(form, "account"))
    except ValueError:
        raise web.HTTPBadRequest() from None
    if target == account.id:
        raise web.HTTPBadRequest()
    await console_of(request).accounts.set_disabled(target, field(form, "disabled") == "1")
    await console_of(request).services.audit.record(
        account.id, AuditAction.ACCOUNT_CHANGED, subject=str(target)
    )
    forget_sessions(request)
    return see_other(url(request, "accounts"))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home, name="home")
    app.router.add_get("/accounts", accounts_page, name="accounts")
    app.router.add_post("/accounts/invite", invite_submit, name="invite")
    app.router.add_post("/accounts/disable", account_disable, name="account_disable")
    app.router.add_get("/organisations/new", organisation_new_form, name="organisation_new")
    app.router.add_post("/organisations/new", organisation_new_submit)
    app.router.add_get("/o/{org}", organisation_page, name="organisation")
    app.router.add_post("/o/{org}/groups", group_add, name="group_add")
    app.router.add_get("/o/{org}/groups/remove", group_remove_confirm, name="group_remove")
    app.router.add_post("/o/{org}/groups/remove", group_remove)
    app.router.add_post("/o/{org}/groups/restructure", group_restructure, name="group_restructure")
    app.router.add_post("/o/{org}/bindings", binding_add, name="binding_add")
    app.router.add_post("/o/{org}/bindings/remove", binding_remove, name="binding_remove")
    app.router.add_post("/o/{org}/counsellors", counsellor_assign, name="counsellor_assign")
    app.router.add_post("/o/{org}/counsellors/remove", counsellor_unassign, name="counsellor_unassign")

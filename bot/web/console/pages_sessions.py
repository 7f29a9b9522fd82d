"""Team sessions: plan (announced through the outbox, with a reminder the day before), sign-up counts, cancel."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.domain.accounts import Role
from bot.domain.outreach import Audience, AudienceError, What
from bot.domain.tenancy import Organisation, Platform
from bot.usecases.team_sessions import SessionDraft, SessionRefusedError, TeamSessions
from bot.web.console.auth import console_of, organisation_for
from bot.web.console.outreach_bridge import CANCELLED_PREFIX, outreach_of, publish
from bot.web.console.pages_auth import see_other
from bot.web.shared.templates import render

FIELDS = ("title", "description", "day", "start", "end", "place", "online_url")


def _url(request: web.Request, name: str, **parts: str) -> str:
    return str(request.app.router[name].url_for(**parts))


async def _page(
    request: web.Request,
    account: Any,
    organisation: Organisation,
    values: dict[str, Any],
    error: str | None,
    status: int = 200,
) -> web.Response:
    services = console_of(request).services
    outreach = outreach_of(services)
    now = console_of(request).now()
    sessions = await outreach.sessions.list_sessions(organisation.id)
    tree = await services.organisations.group_tree(organisation.id)
    zone = ZoneInfo(organisation.timezone)
    return render(
        request,
        "sessions.html",
        status=status,
        account=account,
        organisation=organisation,
        page="sessions",
        upcoming=[(s, n, s.starts_at.astimezone(zone)) for s, n in sessions if s.ends_at > now],
        past=[(s, n, s.starts_at.astimezone(zone)) for s, n in sessions if s.ends_at <= now],
        values=values,
        error=error,
        groups=tree.groups,
        notice=request.query.get("notice"),
    )


async def sessions_page(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    values: dict[str, Any] = dict.fromkeys(FIELDS, "")
    values.update(groups=[], members=False)
    return await _page(request, account, organisation, values, None)


async def session_plan(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    console = console_of(request)
    services = console.services
    form = await request.post()
    values: dict[str, Any] = {k: str(form.get(k, "")).strip()[:2000] for k in FIELDS}
    values.update(groups=form.getall("groups", []), members=form.get("members") == "1")
    zone = ZoneInfo(organisation.timezone)
    try:
        day = date.fromisoformat(values["day"])
        starts = datetime.combine(day, time.fromisoformat(values["start"]), zone)
        ends = datetime.combine(day, time.fromisoformat(values["end"]), zone)
    except ValueError:
        return await _page(request, account, organisation, values, "console.sessions.when_bad", 400)
    audience = Audience(
        groups=tuple(g for g in values["groups"] if isinstance(g, str) and g),
        members=values["members"],
        platforms=(Platform.SLACK, Platform.TEAMS),
    )
    if not audience.groups and not audience.members:
        return await _page(request, account, organisation, values, "console.schedule.audience_missing", 400)
    draft = SessionDraft(
        title=values["title"][:200],
        description=values["description"],
        starts_at=starts,
        ends_at=ends,
        place=values["place"][:300] or None,
        online_url=values["online_url"][:500] or None,
        audience=audience,
    )
    try:
        await TeamSessions(outreach_of(services), services.clock).plan(organisation, draft)
    except SessionRefusedError as refused:
        problem = f"console.sessions.problem.{refused.problem.value}"
        return await _page(request, account, organisation, values, problem, 400)
    return see_other(_url(request, "sessions", org=organisation.slug) + "?notice=planned")


async def session_cancel(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    services = console_of(request).services
    try:
        session_id = UUID(request.match_info["session"])
        session = await TeamSessions(outreach_of(services), services.clock).cancel(organisation, session_id)
    except (ValueError, SessionRefusedError):
        raise web.HTTPNotFound() from None
    notice = "cancelled"
    try:
        await publish(
            services, organisation, What.REMINDER, f"{CANCELLED_PREFIX}{session.id}", session.audience
        )
    except AudienceError:
        notice = "cancelled_nobody"
    return see_other(_url(request, "sessions", org=organisation.slug) + f"?notice={notice}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/o/{org}/sessions", sessions_page, name="sessions")
    app.router.add_post("/o/{org}/sessions", session_plan)
    app.router.add_post("/o/{org}/sessions/{session}/cancel", session_cancel, name="session_cancel")

"""Team sessions: plan (announced through the outbox, with a reminder the day before), sign-up counts, cancel."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_datetime

from bot.domain.accounts import Role
from bot.domain.outreach import Audience, AudienceError, What
from bot.domain.team_sessions import SessionError, TeamSession, reminder_moment
from bot.domain.tenancy import Organisation, Platform
from bot.usecases.team_sessions import SessionDraft, SessionProblem, SessionRefusedError, TeamSessions
from bot.web.console.auth import console_of, organisation_for
from bot.web.console.outreach_bridge import CANCELLED_PREFIX, outreach_of, publish
from bot.web.console.pages_auth import see_other
from bot.web.shared.templates import render, request_locale, translate
from bot.web.shared.urls import url_for

FIELDS = ("title", "description", "day", "start", "end", "place", "online_url")


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
    sessions = await outreach.team_sessions.list_sessions(organisation.id)
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
    if form.get("action") == "back":
        return await _page(request, account, organisation, values, None)
    if form.get("confirm") != "1":
        # Planning announces at once: first a page that says to whom. Nothing is stored or sent by this step,
        # so answering the POST with that page is safe to reload.
        return await _announce_confirm(request, account, organisation, values, draft)
    try:
        await TeamSessions(outreach_of(services), services.clock).plan(organisation, draft)
    except SessionRefusedError as refused:
        problem = f"console.sessions.problem.{refused.problem.value}"
        return await _page(request, account, organisation, values, problem, 400)
    return see_other(url_for(request, "sessions", org=organisation.slug) + "?notice=planned")


async def _announce_confirm(
    request: web.Request,
    account: Any,
    organisation: Organisation,
    values: dict[str, Any],
    draft: SessionDraft,
) -> web.Response:
    from bot.web.console.pages_schedule import reach_of

    services = console_of(request).services
    t = translate(request)
    locale = request_locale(request)
    zone = ZoneInfo(organisation.timezone)
    session = TeamSession(
        id=uuid.uuid4(),
        organisation_id=organisation.id,
        title=draft.title,
        description=draft.description,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        place=draft.place,
        online_url=draft.online_url,
        audience=draft.audience,
        locale=draft.locale,
    )
    problem: SessionProblem | None = None
    reach = None
    if draft.starts_at <= console_of(request).now():
        problem = SessionProblem.IN_PAST
    else:
        try:
            session.check()
            reach = await reach_of(services, organisation, draft.audience)
        except SessionError:
            problem = SessionProblem.INVALID
        except AudienceError:
            problem = SessionProblem.NO_AUDIENCE
    if problem is None and reach is not None and not (reach.channels or reach.people):
        problem = SessionProblem.NO_AUDIENCE
    if problem is not None or reach is None:
        key = f"console.sessions.problem.{(problem or SessionProblem.NO_AUDIENCE).value}"
        return await _page(request, account, organisation, values, key, 400)
    audience = reach.words(t)
    return render(
        request,
        "session_announce.html",
        account=account,
        organisation=organisation,
        page="sessions",
        values=values,
        fields=FIELDS,
        session=session,
        audience=audience,
        moment=format_datetime(session.starts_at.astimezone(zone), "EEEE d MMMM y, HH:mm", locale=locale),
        reminder=format_datetime(
            reminder_moment(session, organisation.timezone).astimezone(zone),
            "EEEE d MMMM, HH:mm",
            locale=locale,
        ),
    )


async def _session_and_signups(request: web.Request, organisation: Organisation) -> tuple[TeamSession, int]:
    outreach = outreach_of(console_of(request).services)
    try:
        session_id = UUID(request.match_info["session"])
    except ValueError:
        raise web.HTTPNotFound() from None
    for session, signups in await outreach.team_sessions.list_sessions(organisation.id):
        if session.id == session_id:
            return session, signups
    raise web.HTTPNotFound()


async def session_cancel_confirm(request: web.Request) -> web.StreamResponse:
    """The step before cancelling: which session, how many signed up, and who is told."""
    from bot.web.console.pages_schedule import reach_of

    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    services = console_of(request).services
    session, signups = await _session_and_signups(request, organisation)
    t = translate(request)
    try:
        audience = (await reach_of(services, organisation, session.audience)).words(t)
    except AudienceError:
        audience = t("console.schedule.nobody_short")
    local = session.starts_at.astimezone(ZoneInfo(organisation.timezone))
    return render(
        request,
        "session_cancel.html",
        account=account,
        organisation=organisation,
        page="sessions",
        session=session,
        signups=signups,
        audience=audience,
        moment=format_datetime(local, "EEEE d MMMM y, HH:mm", locale=request_locale(request)),
    )


async def session_cancel(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    services = console_of(request).services
    form = await request.post()
    if form.get("confirm") != "1":  # one click never cancels: first the page that says who is told
        return see_other(
            url_for(request, "session_cancel", org=organisation.slug, session=request.match_info["session"])
        )
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
    return see_other(url_for(request, "sessions", org=organisation.slug) + f"?notice={notice}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/o/{org}/sessions", sessions_page, name="sessions")
    app.router.add_post("/o/{org}/sessions", session_plan)
    app.router.add_get("/o/{org}/sessions/{session}/cancel", session_cancel_confirm, name="session_cancel")
    app.router.add_post("/o/{org}/sessions/{session}/cancel", session_cancel)

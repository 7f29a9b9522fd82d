"""Schedules: the coming weeks as a calendar, new schedules, pause/resume, publish now, what was sent or failed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import update
from sqlmodel import col, func, select

from bot.domain.accounts import Role
from bot.domain.failures import Failure
from bot.domain.outreach import Audience, AudienceError, Schedule, What
from bot.domain.recurrence import (
    HELP,
    OutreachCalendar,
    RecurrenceError,
    SkipReason,
    WhenBlocked,
    parse_clock,
)
from bot.domain.tenancy import Organisation, Platform
from bot.errors import ConflictError, NotFoundError
from bot.storage.console_content import SqlConsoleContent, parse_own_id
from bot.storage.db import transaction
from bot.storage.tables_outreach import OutreachDeliveryRow, OutreachOccurrenceRow, OutreachScheduleRow
from bot.usecases.schedules import ScheduleProblem, ScheduleRefusedError, check_rule, first_post
from bot.web.console.auth import console_of, organisation_for
from bot.web.console.cache import Expiring, Lru
from bot.web.console.failures import explain_all, stored_failure
from bot.web.console.outreach_bridge import CANCELLED_PREFIX, outreach_of, publish
from bot.web.console.pages_auth import see_other
from bot.web.shared.templates import TEMPLATES, Fragment, render, request_locale, translate
from bot.wiring import Services

WEEKS = 5
RECENT = 30
KIND_WHATS = (What.COLUMN, What.REMINDER)


@dataclass(frozen=True, slots=True)
class Entry:
    local: datetime
    label: str
    state: str  # planned | paused | skipped | sent | failed | pending | session | cancelled
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Sent:
    local: datetime
    label: str
    sent: int
    failed: int
    pending: int
    reasons: tuple[str, ...]


def _url(request: web.Request, name: str, **parts: str) -> str:
    return str(request.app.router[name].url_for(**parts))


#: Schedules made in the console use the organisation's time zone and this grace window.
CONSOLE_GRACE_MINUTES = 120
#: Why the shared schedule check refused a schedule, in the console's words.
PROBLEM_KEYS: dict[ScheduleProblem, str] = {
    ScheduleProblem.RECURRENCE: "console.schedule.recurrence_bad",
    ScheduleProblem.NEVER_FIRES: "console.schedule.never_fires",
    ScheduleProblem.ALWAYS_BLOCKED: "console.schedule.always_blocked",
}

#: The scheduler's reasons for not posting at a planned moment, in the console's words.
SKIP_REASON_KEYS: dict[SkipReason, str] = {
    SkipReason.HOLIDAY: "console.schedule.skip_reason.holiday",
    SkipReason.WEEKEND: "console.schedule.skip_reason.weekend",
    SkipReason.QUIET_HOURS: "console.schedule.skip_reason.quiet_hours",
    SkipReason.MISSED: "console.schedule.skip_reason.missed",
}


def skip_reason(reason: SkipReason | None, t: Callable[..., str]) -> str:
    return "" if reason is None else t(SKIP_REASON_KEYS[reason])


async def item_label(
    services: Services,
    organisation: Organisation,
    what: What,
    item_id: str | None,
    t: Callable[..., str],
    locale: str,
) -> str:
    """What a schedule or occurrence posts, in words."""
    catalog = services.content.catalog
    if item_id is None:
        return (
            t(f"console.schedule.rotation_{what.value}")
            if what in KIND_WHATS
            else t(f"console.schedule.what.{what.value}")
        )
    if item_id.startswith(CANCELLED_PREFIX):
        return t("console.schedule.cancel_notice")
    own = parse_own_id(item_id)
    if own is not None:
        item = await SqlConsoleContent(services.sessions).get(organisation.id, own)
        return item.title.in_locale(locale) if item else t("console.schedule.removed_item")
    if what is What.COLUMN and (column := catalog.column(item_id)):
        return column.title.in_locale(locale)
    if what is What.REMINDER and (reminder := catalog.reminder(item_id)):
        return reminder.title.in_locale(locale)
    return (
        t(f"console.schedule.what.{what.value}")
        if what.value in {"pulse", "session", "session_reminder"}
        else item_id
    )


def _window(
    request: web.Request, organisation: Organisation, now: datetime
) -> tuple[date, datetime, datetime]:
    zone = ZoneInfo(organisation.timezone)
    today = now.astimezone(zone).date()
    try:
        first = date.fromisoformat(request.query.get("from", ""))
    except ValueError:
        first = today
    first -= timedelta(days=first.weekday())
    start = datetime.combine(first, time(0, 0), zone)
    end = start + timedelta(weeks=WEEKS)
    return first, start, end


async def _past(services: Services, organisation: Organisation, since: datetime, limit: int) -> list[Any]:
    async with services.sessions() as session:
        occurrences = (
            await session.exec(
                select(OutreachOccurrenceRow)
                .where(col(OutreachOccurrenceRow.organisation_id) == organisation.id)
                .where(col(OutreachOccurrenceRow.send_at) >= since)
                .order_by(col(OutreachOccurrenceRow.send_at).desc())
                .limit(limit)
            )
        ).all()
        ids = [o.id for o in occurrences]
        counts: dict[UUID, dict[str, int]] = defaultdict(dict)
        reasons: dict[UUID, list[Failure]] = defaultdict(list)
        if ids:
            rows = (
                await session.exec(
                    select(OutreachDeliveryRow.occurrence_id, OutreachDeliveryRow.status, func.count())
                    .where(col(OutreachDeliveryRow.organisation_id) == organisation.id)
                    .where(col(OutreachDeliveryRow.occurrence_id).in_(ids))
                    .group_by(col(OutreachDeliveryRow.occurrence_id), col(OutreachDeliveryRow.status))
                )
            ).all()
            for occurrence_id, status, count in rows:
                counts[occurrence_id][status] = int(count)
            failures = (
                await session.exec(
                    select(
                        OutreachDeliveryRow.occurrence_id,
                        OutreachDeliveryRow.failure_code,
                        OutreachDeliveryRow.failure_detail,
                    )
                    .where(col(OutreachDeliveryRow.organisation_id) == organisation.id)
                    .where(col(OutreachDeliveryRow.occurrence_id).in_(ids))
                    .where(col(OutreachDeliveryRow.status) == "failed")
                )
            ).all()
            for occurrence_id, code, detail in failures:
                failure = stored_failure(code, detail)
                if failure not in reasons[occurrence_id]:
                    reasons[occurrence_id].append(failure)
    return [(o, counts.get(o.id, {}), tuple(reasons.get(o.id, ()))) for o in occurrences]


CALENDAR_TTL = 10.0


async def calendar_page(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    console = console_of(request)
    locale = request_locale(request)
    now = console.now()
    first, start, end = _window(request, organisation, now)
    # Deliveries change in the worker (another task or process): the computed page lives 10 s; the console's own
    # changes bump the organisation's version, so they show at once.
    pages: Expiring[Fragment] = console.expiring("calendar_pages", CALENDAR_TTL)
    key = (
        organisation.id,
        organisation.timezone,
        first,
        locale,
        console.version(organisation.id),
    )
    body = pages.get(key)
    if body is None:
        context = await _calendar_context(request, organisation, first, start, end)
        templates = request.config_dict[TEMPLATES]
        body = pages.put(
            key, templates.fragment(request, "calendar_main.html", organisation=organisation, **context)
        )
    return render(
        request,
        "calendar.html",
        account=account,
        organisation=organisation,
        page="calendar",
        body=body.fill(request),
    )


async def _calendar_context(
    request: web.Request, organisation: Organisation, first: date, start: datetime, end: datetime
) -> dict[str, Any]:
    console = console_of(request)
    services = console.services
    outreach = outreach_of(services)
    t = translate(request)
    locale = request_locale(request)
    now = console.now()
    zone = ZoneInfo(organisation.timezone)
    from scheduler.materialiser import trigger_of
    from scheduler.triggers import Planned, plan

    schedules = await outreach.schedules.list_schedules(organisation)
    # Planned occurrences depend only on the rule, the calendar and the window: cached on exactly those.
    plans: Lru[tuple[Planned, ...]] = console.cache("plans")
    calendar = await outreach.schedules.calendar(organisation.id)
    entries: dict[date, list[Entry]] = defaultdict(list)
    next_send: dict[UUID, datetime | None] = {}
    for schedule in schedules:
        what_text = await item_label(services, organisation, schedule.what, schedule.item_id, t, locale)
        label = f"{schedule.name}: {what_text}"
        key = (schedule.id, schedule.recurrence, schedule.anchor, schedule.timezone, schedule.when_blocked)
        window = plans.get((*key, calendar, start, end))
        if window is None:
            window = plans.put(
                (*key, calendar, start, end),
                tuple(plan(trigger_of(schedule), calendar, schedule.when_blocked, start, end, limit=60)),
            )
        planned = [p for p in window if p.occurs_at > now]
        sendable = [p for p in planned if p.send_at is not None]
        next_send[schedule.id] = (
            sendable[0].send_at.astimezone(zone) if sendable and sendable[0].send_at else None
        )
        for p in planned:
            moment = (p.send_at or p.occurs_at).astimezone(zone)
            if not schedule.enabled:
                state, detail = "paused", t("console.schedule.paused")
            elif p.send_at is None:
                state, detail = "skipped", t("console.schedule.skipped", reason=skip_reason(p.reason, t))
            else:
                state, detail = "planned", ""
            entries[moment.date()].append(Entry(moment, label, state, detail))
    past = await _past(services, organisation, start, 500)
    for occurrence, counts, reasons in past:
        if _aware(occurrence.send_at) > end:
            continue
        moment = _aware(occurrence.send_at).astimezone(zone)
        what = What(occurrence.kind)
        label = await item_label(services, organisation, what, occurrence.item_id, t, locale)
        state = "failed" if counts.get("failed") else ("sent" if counts.get("sent") else "pending")
        entries[moment.date()].append(Entry(moment, label, state, " ".join(explain_all(reasons, t))))
    for session, signups in await outreach.sessions.list_sessions(organisation.id, after=start):
        local = session.starts_at.astimezone(zone)
        if local < end:
            state = "cancelled" if session.cancelled else "session"
            entries[local.date()].append(
                Entry(local, session.title, state, t("console.sessions.signups", count=signups))
            )
    days = []
    for offset in range(WEEKS * 7):
        day = first + timedelta(days=offset)
        days.append((day, sorted(entries.get(day, []), key=lambda e: e.local)))
    recent = await _recent(services, organisation, t, locale)
    return {
        "days": days,
        "today": now.astimezone(zone).date(),
        "previous": (first - timedelta(weeks=WEEKS)).isoformat(),
        "following": (first + timedelta(weeks=WEEKS)).isoformat(),
        "schedules": [
            (s, next_send.get(s.id), await item_label(services, organisation, s.what, s.item_id, t, locale))
            for s in schedules
        ],
        "recent": recent,
        "quiet": calendar,
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))


async def _recent(
    services: Services, organisation: Organisation, t: Callable[..., str], locale: str
) -> list[Sent]:
    zone = ZoneInfo(organisation.timezone)
    found = []
    for occurrence, counts, reasons in await _past(
        services, organisation, datetime(2000, 1, 1, tzinfo=zone), RECENT
    ):
        what = What(occurrence.kind)
        found.append(
            Sent(
                local=_aware(occurrence.send_at).astimezone(zone),
                label=await item_label(services, organisation, what, occurrence.item_id, t, locale),
                sent=counts.get("sent", 0),
                failed=counts.get("failed", 0),
                pending=counts.get("pending", 0) + counts.get("claimed", 0),
                reasons=explain_all(reasons, t),
            )
        )
    return found


async def _choices(services: Services, organisation: Organisation) -> dict[str, list[tuple[str, str]]]:
    catalog = services.content.catalog
    own = await SqlConsoleContent(services.sessions).items(organisation.id)
    return {
        "column": [(i.item_id, i.title.nl) for i in own if i.kind == "column"]
        + [(c.id, c.title.nl) for c in catalog.columns],
        "reminder": [(i.item_id, i.title.nl) for i in own if i.kind == "reminder"]
        + [(r.id, r.title.nl) for r in catalog.reminders],
    }


async def _schedule_form(
    request: web.Request,
    organisation: Organisation,
    account: Any,
    values: dict[str, Any],
    error: str | None,
    status: int = 200,
) -> web.Response:
    services = console_of(request).services
    tree = await services.organisations.group_tree(organisation.id)
    return render(
        request,
        "schedule_new.html",
        status=status,
        account=account,
        organisation=organisation,
        page="calendar",
        values=values,
        error=error,
        choices=await _choices(services, organisation),
        groups=tree.groups,
        platforms=list(Platform),
        recurrence_help=HELP,
    )


async def schedule_new(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    what = request.query.get("what", "column")
    values = {
        "what": what if what in {w.value for w in KIND_WHATS} else "column",
        "item": request.query.get("item", ""),
        "name": "",
        "recurrence": "",
        "groups": [],
        "members": False,
        "platforms": [p.value for p in Platform],
        "when_blocked": WhenBlocked.DEFER.value,
    }
    return await _schedule_form(request, organisation, account, values, None)


def _audience(form: Any) -> Audience:
    platforms = tuple(Platform(p) for p in form.getall("platforms", []) if p in {x.value for x in Platform})
    return Audience(
        groups=tuple(g for g in form.getall("groups", []) if isinstance(g, str) and g),
        members=form.get("members") == "1",
        platforms=platforms or (Platform.SLACK, Platform.TEAMS),
    )


async def schedule_submit(request: web.Request) -> web.StreamResponse:  # noqa: PLR0911 - one answer per problem
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    console = console_of(request)
    services = console.services
    form = await request.post()
    what_value = str(form.get("what", ""))
    item = str(form.get("item", "")).strip()[:120] or None
    name = str(form.get("name", "")).strip()[:100]
    recurrence = str(form.get("recurrence", "")).strip()[:200]
    values: dict[str, Any] = {
        "what": what_value,
        "item": item or "",
        "name": name,
        "recurrence": recurrence,
        "groups": form.getall("groups", []),
        "members": form.get("members") == "1",
        "platforms": form.getall("platforms", []),
        "when_blocked": str(form.get("when_blocked", "defer")),
    }
    if what_value not in {w.value for w in KIND_WHATS}:
        raise web.HTTPBadRequest()
    what = What(what_value)
    audience = _audience(form)
    if item is not None and item not in {i for i, _ in (await _choices(services, organisation))[what.value]}:
        return await _schedule_form(
            request, organisation, account, values, "console.schedule.item_unknown", 400
        )
    if not audience.groups and not audience.members:
        return await _schedule_form(
            request, organisation, account, values, "console.schedule.audience_missing", 400
        )
    if form.get("action") == "now":
        if item is None:
            return await _schedule_form(
                request, organisation, account, values, "console.schedule.item_needed", 400
            )
        try:
            count = await publish(services, organisation, what, item, audience)
        except AudienceError:
            return await _schedule_form(
                request, organisation, account, values, "console.schedule.nobody", 400
            )
        return see_other(_url(request, "calendar", org=organisation.slug) + f"?published={count}")
    if not values["name"]:
        return await _schedule_form(
            request, organisation, account, values, "console.schedule.name_missing", 400
        )
    when_blocked = WhenBlocked.SKIP if values["when_blocked"] == "skip" else WhenBlocked.DEFER
    from scheduler.materialiser import anchor_today

    outreach = outreach_of(services)
    anchor = anchor_today(console.now(), organisation.timezone)
    try:  # the same checks as `vipbot schedule add`
        rule = check_rule(recurrence, None, CONSOLE_GRACE_MINUTES)
        calendar = await outreach.schedules.calendar(organisation.id)
        first_post(rule, organisation.timezone, anchor, calendar, when_blocked, console.now())
    except ScheduleRefusedError as exc:
        key = PROBLEM_KEYS.get(exc.problem, "console.schedule.recurrence_bad")
        return await _schedule_form(request, organisation, account, values, key, 400)
    try:
        await outreach.schedules.add(
            organisation,
            name=name,
            what=what,
            item_id=item,
            audience=audience,
            recurrence=recurrence,
            anchor=anchor,
            timezone=None,
            locale=None,
            when_blocked=when_blocked,
            grace_minutes=CONSOLE_GRACE_MINUTES,
            now=console.now(),
        )
    except ConflictError:
        return await _schedule_form(
            request, organisation, account, values, "console.schedule.name_taken", 400
        )
    return see_other(_url(request, "calendar", org=organisation.slug))


async def _schedule(request: web.Request, organisation: Organisation) -> Schedule:
    try:
        return await outreach_of(console_of(request).services).schedules.get(
            organisation, request.match_info["name"]
        )
    except NotFoundError:
        raise web.HTTPNotFound() from None


async def schedule_toggle(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    schedule = await _schedule(request, organisation)
    enable = request.match_info["action"] == "resume"
    console = console_of(request)
    async with transaction(console.services.sessions) as session:
        values: dict[str, Any] = {"enabled": enable, "updated_at": console.now()}
        if enable:
            # Resuming does not send what was missed while paused: the cursor moves to now.
            values["cursor_at"] = console.now()
        await session.exec(
            update(OutreachScheduleRow)
            .where(col(OutreachScheduleRow.organisation_id) == organisation.id)
            .where(col(OutreachScheduleRow.id) == schedule.id)
            .values(**values)
        )
    return see_other(_url(request, "calendar", org=organisation.slug))


async def schedule_remove(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    schedule = await _schedule(request, organisation)
    await outreach_of(console_of(request).services).schedules.remove(organisation, schedule.name)
    return see_other(_url(request, "calendar", org=organisation.slug))


async def calendar_settings(request: web.Request) -> web.StreamResponse:
    """Quiet hours, weekends and holidays: when nothing is posted to the organisation."""
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    target = _url(request, "calendar", org=organisation.slug)
    try:
        quiet_start = parse_clock(str(form.get("quiet_start", "")))
        quiet_end = parse_clock(str(form.get("quiet_end", "")))
        holidays = frozenset(
            date.fromisoformat(part.strip())
            for part in str(form.get("holidays", "")).replace("\n", ",").split(",")
            if part.strip()
        )
    except (RecurrenceError, ValueError):
        return see_other(target + "?settings=invalid")
    calendar = OutreachCalendar(
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        skip_weekends=form.get("skip_weekends") == "1",
        holidays=holidays,
    )
    await outreach_of(console_of(request).services).schedules.set_calendar(organisation.id, calendar)
    return see_other(target + "?settings=saved")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/o/{org}/calendar", calendar_page, name="calendar")
    app.router.add_post("/o/{org}/calendar/settings", calendar_settings, name="calendar_settings")
    app.router.add_get("/o/{org}/schedules/new", schedule_new, name="schedule_new")
    app.router.add_post("/o/{org}/schedules/new", schedule_submit)
    app.router.add_post(
        "/o/{org}/schedules/{name}/{action:pause|resume}", schedule_toggle, name="schedule_toggle"
    )
    app.router.add_post("/o/{org}/schedules/{name}/remove", schedule_remove, name="schedule_remove")

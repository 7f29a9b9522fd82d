"""Schedules: the coming weeks as a calendar, new schedules, pause/resume, publish now, what was sent or failed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

from aiohttp import web
from babel import Locale
from babel.dates import format_date, format_datetime
from sqlalchemy import update
from sqlmodel import col, func, select

from bot.domain.accounts import Role
from bot.domain.delivery import TargetKind
from bot.domain.failures import Failure
from bot.domain.outreach import Audience, AudienceError, Schedule, What
from bot.domain.recurrence import (
    DAYS,
    OutreachCalendar,
    Recurrence,
    RecurrenceError,
    SkipReason,
    WhenBlocked,
    parse_clock,
)
from bot.domain.tenancy import Organisation, Platform
from bot.errors import NotFoundError
from bot.storage.console_content import SqlConsoleContent, parse_own_id
from bot.storage.db import transaction
from bot.storage.planning import supported_countries
from bot.storage.tables_outreach import OutreachDeliveryRow, OutreachOccurrenceRow, OutreachScheduleRow
from bot.usecases.pulses import PulseProblem, PulseRefusedError, check_pulse_set
from bot.usecases.schedules import (
    Frequency,
    NewSchedule,
    RuleChoice,
    ScheduleChanges,
    ScheduleProblem,
    ScheduleRefusedError,
    add_schedule,
    check_name,
    check_rule,
    choice_of,
    edit_schedule,
    first_post,
    next_occurrences,
    next_post,
    remove_schedule,
)
from bot.web.console.auth import console_of, organisation_for
from bot.web.console.cache import Expiring, Lru
from bot.web.console.failures import explain_all, stored_failure
from bot.web.console.outreach_bridge import CANCELLED_PREFIX, outreach_of, publish_occurrence
from bot.web.console.pages_auth import see_other
from bot.web.shared.templates import TEMPLATES, Fragment, render, request_locale, translate
from bot.web.shared.urls import url_for
from bot.wiring import Services
from scheduler.materialiser import anchor_today

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


#: Schedules made in the console use the organisation's time zone and this grace window.
CONSOLE_GRACE_MINUTES = 120
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

    async def compute() -> Fragment:
        context = await _calendar_context(request, organisation, first, start, end)
        templates = request.config_dict[TEMPLATES]
        return templates.fragment(request, "calendar_main.html", organisation=organisation, **context)

    # One computation for all who ask at once (not one each when the entry has just expired).
    body = await pages.get_or_compute(key, compute)
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
    from scheduler.triggers import Planned, plan, spread_deferred

    schedules = await outreach.schedules.list_schedules(organisation)
    # Planned occurrences depend only on the rule, the calendar and the window: cached on exactly those.
    plans: Lru[tuple[Planned, ...]] = console.cache("plans")
    calendar = await outreach.schedules.calendar(organisation.id)
    entries: dict[date, list[Entry]] = defaultdict(list)
    next_send: dict[UUID, datetime | None] = {}
    windows: dict[UUID, tuple[Planned, ...]] = {}
    for schedule in schedules:
        key = (schedule.id, schedule.recurrence, schedule.anchor, schedule.timezone, schedule.when_blocked)
        window = plans.get((*key, calendar, start, end))
        if window is None:
            window = plans.put(
                (*key, calendar, start, end),
                tuple(plan(trigger_of(schedule), calendar, schedule.when_blocked, start, end, limit=60)),
            )
        windows[schedule.id] = window
    # Posts deferred to one moment go out spread over that morning, as the materialiser will send them.
    spread = spread_deferred(
        (s.id, p) for s in schedules if s.enabled for p in windows[s.id] if p.occurs_at > now
    )
    for schedule in schedules:
        what_text = await item_label(services, organisation, schedule.what, schedule.item_id, t, locale)
        label = f"{schedule.name}: {what_text}"
        planned = [
            replace(p, send_at=spread.get((schedule.id, p.occurs_at), p.send_at))
            for p in windows[schedule.id]
            if p.occurs_at > now
        ]
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
    for session, signups in await outreach.team_sessions.list_sessions(organisation.id, after=start):
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
        "countries": _countries(locale),
        "public_days": _coming_public_holidays(calendar, now.astimezone(zone).date(), locale),
    }


def _countries(locale: str) -> list[tuple[str, str]]:
    """Every country the holidays package knows, by its name in the reader's language."""
    names = Locale.parse(locale).territories
    return sorted(((code, names.get(code, code)) for code in supported_countries()), key=lambda c: c[1])


def _coming_public_holidays(calendar: OutreachCalendar, today: date, locale: str) -> list[str]:
    coming = sorted(d for d in calendar.public_holidays if today <= d <= today + timedelta(days=366))
    return [format_date(d, "EEEE d MMMM y", locale=locale) for d in coming]


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
        "pulse": [(p.id, p.name.nl) for p in catalog.pulse_sets],
        "digest": [],  # the digest has no item: it is last month's columns
    }


#: Which field a refusal of the shared schedule checks belongs next to, and its words.
PROBLEM_FIELDS: dict[ScheduleProblem, tuple[str, str]] = {
    ScheduleProblem.RECURRENCE: ("recurrence", "console.schedule.recurrence_bad"),
    ScheduleProblem.TIMEZONE: ("rule", "console.schedule.recurrence_bad"),
    ScheduleProblem.GRACE: ("rule", "console.schedule.recurrence_bad"),
    ScheduleProblem.NEVER_FIRES: ("rule", "console.schedule.never_fires"),
    ScheduleProblem.ALWAYS_BLOCKED: ("rule", "console.schedule.always_blocked"),
    ScheduleProblem.TIME: ("at", "console.schedule.time_bad"),
    ScheduleProblem.DAYS: ("days", "console.schedule.days_missing"),
    ScheduleProblem.INTERVAL: ("interval", "console.schedule.interval_bad"),
    ScheduleProblem.DAY_OF_MONTH: ("day_of_month", "console.schedule.day_of_month_bad"),
    ScheduleProblem.NAME_MISSING: ("name", "console.schedule.name_missing"),
    ScheduleProblem.NAME_TAKEN: ("name", "console.schedule.name_taken"),
    ScheduleProblem.NOT_FOUND: ("rule", "console.schedule.removed_schedule"),
}

SCHEDULE_WHATS = (What.COLUMN, What.REMINDER, What.PULSE, What.DIGEST)

#: Why the shared pulse checks refused, in the console's words.
PULSE_PROBLEM_KEYS: dict[PulseProblem, str] = {
    PulseProblem.SET_MISSING: "console.pulses.problem.set_missing",
    PulseProblem.UNKNOWN_SET: "console.pulses.problem.unknown_set",
    PulseProblem.UNKNOWN_GROUP: "console.pulses.problem.unknown_group",
    PulseProblem.WINDOW: "console.pulses.problem.window",
    PulseProblem.STILL_OPEN: "console.pulses.problem.still_open",
    PulseProblem.NOT_FOUND: "console.pulses.problem.not_found",
    PulseProblem.CLOSED_ALREADY: "console.pulses.problem.closed_already",
}


@dataclass
class ScheduleForm:
    """The schedule form as typed: kept whole when something is refused, so nothing typed is lost."""

    what: str = What.COLUMN.value
    item: str = ""
    name: str = ""
    groups: list[str] = field(default_factory=list)
    members: bool = False
    platforms: list[str] = field(default_factory=lambda: [p.value for p in Platform])
    when_blocked: str = WhenBlocked.DEFER.value
    frequency: str = Frequency.WEEKLY.value
    days: list[str] = field(default_factory=lambda: ["mon"])
    interval: str = "1"
    day_of_month: str = "1"
    at: str = "09:00"
    recurrence: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_post(cls, form: Any) -> ScheduleForm:
        def text(name: str, limit: int) -> str:
            value = form.get(name, "")
            return value.strip()[:limit] if isinstance(value, str) else ""

        recurrence = text("recurrence", 200)
        frequency = text("frequency", 20)
        # A rule written by hand wins; a form without pickers (an older page, a script) is a rule by hand.
        if recurrence or frequency not in {f.value for f in Frequency}:
            frequency = Frequency.TEXT.value
        return cls(
            what=text("what", 20),
            item=text("item", 120),
            name=text("name", 100),
            groups=[g for g in form.getall("groups", []) if isinstance(g, str) and g],
            members=form.get("members") == "1",
            platforms=[p for p in form.getall("platforms", []) if p in {x.value for x in Platform}],
            when_blocked=text("when_blocked", 10) or WhenBlocked.DEFER.value,
            frequency=frequency,
            days=[d for d in form.getall("days", []) if d in DAYS],
            interval=text("interval", 3) or "1",
            day_of_month=text("day_of_month", 3) or "1",
            at=text("at", 8),
            recurrence=recurrence,
        )

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleForm:
        choice = choice_of(schedule.recurrence)
        return cls(
            what=schedule.what.value,
            item=schedule.item_id or "",
            name=schedule.name,
            groups=list(schedule.audience.groups),
            members=schedule.audience.members,
            platforms=[p.value for p in schedule.audience.platforms],
            when_blocked=schedule.when_blocked.value,
            frequency=choice.frequency.value,
            days=list(choice.days),
            interval=str(choice.interval),
            day_of_month=str(choice.day_of_month),
            at=choice.at,
            recurrence=choice.text,
        )

    def choice(self) -> RuleChoice:
        def number(value: str, problem: ScheduleProblem) -> int:
            try:
                return int(value)
            except ValueError:
                raise ScheduleRefusedError(problem, f"'{value}' is not a number") from None

        return RuleChoice(
            frequency=Frequency(self.frequency),
            days=tuple(self.days),
            interval=number(self.interval, ScheduleProblem.INTERVAL),
            day_of_month=number(self.day_of_month, ScheduleProblem.DAY_OF_MONTH),
            at=self.at,
            text=self.recurrence,
        )

    def audience(self) -> Audience:
        platforms = tuple(Platform(p) for p in self.platforms)
        return Audience(
            groups=tuple(self.groups),
            members=self.members,
            platforms=platforms or (Platform.SLACK, Platform.TEAMS),
        )

    def blocked(self) -> WhenBlocked:
        return WhenBlocked.SKIP if self.when_blocked == WhenBlocked.SKIP.value else WhenBlocked.DEFER

    def refuse(self, problem: ScheduleProblem) -> None:
        where, key = PROBLEM_FIELDS[problem]
        self.errors.setdefault(where, key)


@dataclass(frozen=True, slots=True)
class Upcoming:
    """One of the next occurrences, as the preview lists it."""

    when: str  # when it is posted (or would have been), in the reader's words
    state: str  # planned | deferred | skipped
    note: str = ""


def moment_words(moment: datetime, zone: str, locale: str) -> str:
    return format_datetime(moment.astimezone(ZoneInfo(zone)), "EEEE d MMMM y, HH:mm", locale=locale)


async def _rule_of(
    request: web.Request, organisation: Organisation, form: ScheduleForm
) -> tuple[Recurrence, list[Upcoming]] | None:
    """The form's rule and its next five occurrences; None (with the problem on the form) when it is refused."""
    console = console_of(request)
    outreach = outreach_of(console.services)
    t = translate(request)
    locale = request_locale(request)
    now = console.now()
    try:
        text = form.choice().text_rule()
        rule = check_rule(text, None, CONSOLE_GRACE_MINUTES)
        calendar = await outreach.schedules.calendar(organisation.id)
        anchor = anchor_today(now, organisation.timezone)
        first_post(rule, organisation.timezone, anchor, calendar, form.blocked(), now)
    except ScheduleRefusedError as exc:
        form.refuse(exc.problem)
        return None
    upcoming = []
    for planned in next_occurrences(rule, organisation.timezone, anchor, calendar, form.blocked(), now):
        reason = skip_reason(planned.reason, t)
        if planned.send_at is None:
            upcoming.append(
                Upcoming(
                    moment_words(planned.occurs_at, organisation.timezone, locale),
                    "skipped",
                    t("console.schedule.skipped", reason=reason),
                )
            )
        elif planned.send_at != planned.occurs_at:
            upcoming.append(
                Upcoming(
                    moment_words(planned.send_at, organisation.timezone, locale),
                    "deferred",
                    t(
                        "console.schedule.deferred_from",
                        moment=moment_words(planned.occurs_at, organisation.timezone, locale),
                        reason=reason,
                    ),
                )
            )
        else:
            upcoming.append(Upcoming(moment_words(planned.send_at, organisation.timezone, locale), "planned"))
    return rule, upcoming


async def _schedule_form(
    request: web.Request,
    organisation: Organisation,
    account: Any,
    form: ScheduleForm,
    *,
    editing: Schedule | None = None,
    status: int = 200,
) -> web.Response:
    services = console_of(request).services
    tree = await services.organisations.group_tree(organisation.id)
    checked = await _rule_of(request, organisation, form) if "rule" not in form.errors else None
    return render(
        request,
        "schedule_new.html",
        status=status,
        account=account,
        organisation=organisation,
        page="calendar",
        values=form,
        errors=form.errors,
        upcoming=checked[1] if checked else [],
        editing=editing,
        choices=await _choices(services, organisation),
        groups=tree.groups,
        platforms=list(Platform),
        frequencies=[f.value for f in Frequency],
        days=DAYS,
        whats=[w.value for w in SCHEDULE_WHATS],
    )


async def schedule_new(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    what = request.query.get("what", "column")
    form = ScheduleForm(
        what=what if what in {w.value for w in SCHEDULE_WHATS} else What.COLUMN.value,
        item=request.query.get("item", "")[:120],
    )
    return await _schedule_form(request, organisation, account, form)


async def check_form(
    request: web.Request, organisation: Organisation, form: ScheduleForm, *, needs_name: bool
) -> Recurrence | None:
    """Every check of the form; each problem is put next to its field. The rule when all is well."""
    services = console_of(request).services
    if form.what not in {w.value for w in SCHEDULE_WHATS}:
        raise web.HTTPBadRequest()
    what = What(form.what)
    known = {i for i, _ in (await _choices(services, organisation))[what.value]}
    if form.item and form.item not in known:
        form.errors["item"] = "console.schedule.item_unknown"
    if what is What.PULSE:
        try:
            check_pulse_set(services.content.catalog, form.item or None)
        except PulseRefusedError as exc:
            form.errors["item"] = PULSE_PROBLEM_KEYS[exc.problem]
    if not form.groups and not form.members:
        form.errors["audience"] = "console.schedule.audience_missing"
    if needs_name:
        try:
            form.name = check_name(form.name)
        except ScheduleRefusedError as exc:
            form.refuse(exc.problem)
    checked = await _rule_of(request, organisation, form)
    if form.errors or checked is None:
        return None
    return checked[0]


async def schedule_submit(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = ScheduleForm.from_post(await request.post())
    action = (await request.post()).get("action")
    if action == "now":  # an older page's "send now": never sends, it goes to the step that says to whom
        return see_other(_publishurl_for(request, organisation, form))
    if action == "preview":
        await check_form(request, organisation, form, needs_name=False)
        return await _schedule_form(request, organisation, account, form)
    if not await save_new(request, organisation, form):
        return await _schedule_form(request, organisation, account, form, status=400)
    return see_other(
        url_for(request, "calendar", org=organisation.slug) + "?" + urlencode({"saved": form.name})
    )


async def save_new(request: web.Request, organisation: Organisation, form: ScheduleForm) -> bool:
    """Every check of the form, then the schedule stored by the same use case as `vipbot schedule add`.

    False (with each problem next to its field) when something is refused."""
    rule = await check_form(request, organisation, form, needs_name=True)
    if rule is None:
        return False
    console = console_of(request)
    new = NewSchedule(
        name=form.name,
        what=What(form.what),
        item_id=form.item or None,
        audience=form.audience(),
        recurrence=rule.text,
        when_blocked=form.blocked(),
        grace_minutes=CONSOLE_GRACE_MINUTES,
    )
    try:
        await add_schedule(outreach_of(console.services).schedules, organisation, new, console.now())
    except ScheduleRefusedError as exc:
        form.refuse(exc.problem)
        return False
    console.bump(organisation.id)
    return True


def _home_of(request: web.Request, organisation: Organisation, schedule: Schedule) -> str:
    """Where a schedule is looked after: the digest's own page, or the calendar."""
    page = "digest" if schedule.what is What.DIGEST else "calendar"
    return url_for(request, page, org=organisation.slug)


async def schedule_preview(request: web.Request) -> web.StreamResponse:
    """The next five occurrences of the rule being typed (for the form's script; the form works without it)."""
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = ScheduleForm.from_post(await request.post())
    checked = await _rule_of(request, organisation, form)
    return render(
        request,
        "schedule_preview.html",
        upcoming=checked[1] if checked else [],
        errors=form.errors,
    )


async def schedule_edit(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    schedule = await _schedule(request, organisation)
    return await _schedule_form(request, organisation, account, ScheduleForm.of(schedule), editing=schedule)


async def schedule_edit_submit(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    console = console_of(request)
    schedule = await _schedule(request, organisation)
    form = ScheduleForm.from_post(await request.post())
    form.what = schedule.what.value  # what a schedule posts is its identity: a new kind is a new schedule
    if (await request.post()).get("action") == "preview":
        await check_form(request, organisation, form, needs_name=False)
        return await _schedule_form(request, organisation, account, form, editing=schedule)
    rule = await check_form(request, organisation, form, needs_name=True)
    if rule is None:
        return await _schedule_form(request, organisation, account, form, editing=schedule, status=400)
    changes = ScheduleChanges(
        name=form.name,
        item_id=form.item or None,
        clear_item=not form.item,
        audience=form.audience(),
        recurrence=rule.text,
        when_blocked=form.blocked(),
    )
    try:  # the same use case as `vipbot schedule edit`
        saved, _first = await edit_schedule(
            outreach_of(console.services).schedules, organisation, schedule.name, changes, console.now()
        )
    except ScheduleRefusedError as exc:
        form.refuse(exc.problem)
        return await _schedule_form(request, organisation, account, form, editing=schedule, status=400)
    console.bump(organisation.id)
    return see_other(_home_of(request, organisation, saved) + "?" + urlencode({"saved": saved.name}))


# --- publish now: a deliberate second step that names its audience ----------------------------------------


def _publishurl_for(request: web.Request, organisation: Organisation, form: ScheduleForm) -> str:
    query = [("what", form.what), ("item", form.item)]
    query += [("groups", g) for g in form.groups]
    query += [("platforms", p) for p in form.platforms]
    if form.members:
        query.append(("members", "1"))
    return url_for(request, "publish", org=organisation.slug) + "?" + urlencode(query)


@dataclass(frozen=True, slots=True)
class Reach:
    """Who a post reaches, from the real channel bindings and the member directory."""

    channels: tuple[str, ...]
    people: int

    def words(self, t: Callable[..., str]) -> str:
        parts = list(self.channels)
        if self.people:
            parts.append(t("console.schedule.people", count=self.people))
        if not parts:
            return t("console.schedule.nobody_short")
        if len(parts) == 1:
            return parts[0]
        return t("console.schedule.and_list", first=", ".join(parts[:-1]), last=parts[-1])


async def reach_of(services: Services, organisation: Organisation, audience: Audience) -> Reach:
    """The channels (by name) and the number of people an audience reaches right now."""
    addressees = await outreach_of(services).materialiser.addressees(organisation, audience)
    bindings = await services.organisations.bindings(organisation.id)
    names = {(b.platform, b.workspace_id, b.channel_id): b.channel_name for b in bindings}
    channels: list[str] = []
    people = 0
    for addressee in addressees:
        target = addressee.target
        if target.kind is TargetKind.PERSON:
            people += 1
            continue
        name = names.get((target.platform, target.workspace_id, target.address)) or target.address
        label = f"#{name}" if target.platform is Platform.SLACK else name
        if label not in channels:
            channels.append(label)
    return Reach(tuple(channels), people)


async def publish_check(request: web.Request) -> web.StreamResponse:
    """The schedule form's "send now…": nothing is sent here; it leads to the page that says to whom."""
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = ScheduleForm.from_post(await request.post())
    return see_other(_publishurl_for(request, organisation, form))


def _form_from_query(request: web.Request) -> ScheduleForm:
    query = request.query
    return ScheduleForm(
        what=query.get("what", "")[:20],
        item=query.get("item", "")[:120],
        groups=[g[:60] for g in query.getall("groups", []) if g],
        members=query.get("members") == "1",
        platforms=[p for p in query.getall("platforms", []) if p in {x.value for x in Platform}],
    )


async def _publish_problem(  # noqa: PLR0911 - one answer per problem
    request: web.Request, organisation: Organisation, form: ScheduleForm
) -> tuple[str | None, Reach | None]:
    services = console_of(request).services
    if form.what not in {w.value for w in SCHEDULE_WHATS}:
        return "console.schedule.item_needed", None
    what = What(form.what)
    if not form.item:
        return "console.schedule.item_needed", None
    if form.item not in {i for i, _ in (await _choices(services, organisation))[what.value]}:
        return "console.schedule.item_unknown", None
    if not form.groups and not form.members:
        return "console.schedule.audience_missing", None
    try:
        reach = await reach_of(services, organisation, form.audience())
    except AudienceError:
        return "console.schedule.nobody", None
    if not reach.channels and not reach.people:
        return "console.schedule.nobody", reach
    return None, reach


async def publish_confirm(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    services = console_of(request).services
    t = translate(request)
    form = _form_from_query(request)
    problem, reach = await _publish_problem(request, organisation, form)
    label = ""
    if form.what in {w.value for w in SCHEDULE_WHATS} and form.item:
        label = await item_label(
            services, organisation, What(form.what), form.item, t, request_locale(request)
        )
    back = (
        url_for(request, "schedule_new", org=organisation.slug)
        + "?"
        + urlencode({"what": form.what, "item": form.item})
    )
    return render(
        request,
        "publish_confirm.html",
        status=200,
        account=account,
        organisation=organisation,
        page="calendar",
        values=form,
        problem=problem,
        audience=reach.words(t) if reach else "",
        label=label,
        back=back,
    )


async def publish_send(request: web.Request) -> web.StreamResponse:
    """The second step: post it now through the outbox, then show what was queued and what has arrived."""
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    console = console_of(request)
    form = ScheduleForm.from_post(await request.post())
    form.platforms = form.platforms or [p.value for p in Platform]
    problem, _reach = await _publish_problem(request, organisation, form)
    if problem is not None:
        return see_other(_publishurl_for(request, organisation, form))
    try:
        occurrence = await publish_occurrence(
            console.services, organisation, What(form.what), form.item, form.audience()
        )
    except AudienceError:
        return see_other(_publishurl_for(request, organisation, form))
    console.bump(organisation.id)
    return see_other(
        url_for(request, "deliveries", org=organisation.slug)
        + "?"
        + urlencode({"occurrence": str(occurrence)})
    )


async def deliveries_page(request: web.Request) -> web.StreamResponse:
    """How far one post has got: queued, delivered, failed (with why) — read from the outbox as it is now."""
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    services = console_of(request).services
    t = translate(request)
    locale = request_locale(request)
    try:
        occurrence_id: UUID | None = UUID(request.query.get("occurrence", ""))
    except ValueError:
        occurrence_id = None
    status = None
    if occurrence_id is not None:
        for occurrence, counts, reasons in await _past(
            services, organisation, datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")), 200
        ):
            if occurrence.id == occurrence_id:
                status = Sent(
                    local=_aware(occurrence.send_at).astimezone(ZoneInfo(organisation.timezone)),
                    label=await item_label(
                        services, organisation, What(occurrence.kind), occurrence.item_id, t, locale
                    ),
                    sent=counts.get("sent", 0),
                    failed=counts.get("failed", 0),
                    pending=counts.get("pending", 0) + counts.get("claimed", 0),
                    reasons=explain_all(reasons, t),
                )
                break
    return render(
        request,
        "deliveries.html",
        account=account,
        organisation=organisation,
        page="calendar",
        delivery=status,
        recent=await _recent(services, organisation, t, locale),
    )


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
    return see_other(url_for(request, "calendar", org=organisation.slug))


async def schedule_remove_confirm(request: web.Request) -> web.StreamResponse:
    """The step before removing: which schedule, when it would post next, and that queued posts still go."""
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    schedule = await _schedule(request, organisation)
    console = console_of(request)
    calendar = await outreach_of(console.services).schedules.calendar(organisation.id)
    upcoming = next_post(schedule, calendar, console.now())
    locale = request_locale(request)
    return render(
        request,
        "schedule_remove.html",
        account=account,
        organisation=organisation,
        page="digest" if schedule.what is What.DIGEST else "calendar",
        schedule=schedule,
        back=_home_of(request, organisation, schedule),
        next_post=None if upcoming is None else moment_words(upcoming, schedule.timezone, locale),
    )


async def schedule_remove(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    schedule = await _schedule(request, organisation)
    if (await request.post()).get("confirm") != "1":  # one click never removes: first the page that asks
        confirm = request.app.router["schedule_remove"].url_for(org=organisation.slug, name=schedule.name)
        return see_other(str(confirm))
    console = console_of(request)
    # The same use case as `vipbot schedule remove`; removed by someone else meanwhile, it is gone either way.
    with suppress(ScheduleRefusedError):
        await remove_schedule(outreach_of(console.services).schedules, organisation, schedule.name)
    console.bump(organisation.id)
    return see_other(_home_of(request, organisation, schedule) + "?" + urlencode({"removed": schedule.name}))


async def calendar_settings(request: web.Request) -> web.StreamResponse:
    """Quiet hours, weekends and holidays: when nothing is posted to the organisation."""
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    target = url_for(request, "calendar", org=organisation.slug)
    try:
        quiet_start = parse_clock(str(form.get("quiet_start", "")))
        quiet_end = parse_clock(str(form.get("quiet_end", "")))
        # One date picker per own day off (an emptied picker removes its day); a comma-separated list still works.
        picked = [str(d).strip() for d in form.getall("holiday", []) if str(d).strip()]
        listed = [p.strip() for p in str(form.get("holidays", "")).replace("\n", ",").split(",") if p.strip()]
        holidays = frozenset(date.fromisoformat(day) for day in [*picked, *listed])
    except (RecurrenceError, ValueError):
        return see_other(target + "?settings=invalid")
    country = str(form.get("country", ""))[:8]
    if country and country not in supported_countries():
        return see_other(target + "?settings=invalid")
    calendar = OutreachCalendar(
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        skip_weekends=form.get("skip_weekends") == "1",
        holidays=holidays,
        country=country,
    )
    await outreach_of(console_of(request).services).schedules.set_calendar(organisation.id, calendar)
    return see_other(target + "?settings=saved")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/o/{org}/calendar", calendar_page, name="calendar")
    app.router.add_post("/o/{org}/calendar/settings", calendar_settings, name="calendar_settings")
    app.router.add_get("/o/{org}/schedules/new", schedule_new, name="schedule_new")
    app.router.add_post("/o/{org}/schedules/new", schedule_submit)
    app.router.add_post("/o/{org}/schedules/preview", schedule_preview, name="schedule_preview")
    app.router.add_get("/o/{org}/schedules/{name}/edit", schedule_edit, name="schedule_edit")
    app.router.add_post("/o/{org}/schedules/{name}/edit", schedule_edit_submit)
    app.router.add_post(
        "/o/{org}/schedules/{name}/{action:pause|resume}", schedule_toggle, name="schedule_toggle"
    )
    app.router.add_get("/o/{org}/schedules/{name}/remove", schedule_remove_confirm, name="schedule_remove")
    app.router.add_post("/o/{org}/schedules/{name}/remove", schedule_remove)
    app.router.add_post("/o/{org}/publish/check", publish_check, name="publish_check")
    app.router.add_get("/o/{org}/publish", publish_confirm, name="publish")
    app.router.add_post("/o/{org}/publish", publish_send)
    app.router.add_get("/o/{org}/deliveries", deliveries_page, name="deliveries")

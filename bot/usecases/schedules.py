"""Outreach schedules as the CLI and the console both handle them: checking, editing, the next occurrences.

`vipbot schedule add/edit/remove`, the console's schedule form and its digest page run the same checks
(`add_schedule`, `edit_schedule`, `remove_schedule`). A refusal is a
`ScheduleRefusedError` with a `ScheduleProblem` code: the CLI prints its one-line message, the console maps the code
to a locale key and shows it next to the field it is about.

The console writes a rule with pickers (how often, which days, what time); `RuleChoice` is that choice and
`RuleChoice.text()` the rule in the Dutch words the parser reads, so what is stored is also what a counsellor reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.outreach import Audience, Schedule, What
from bot.domain.recurrence import (
    DAYS,
    OutreachCalendar,
    Recurrence,
    RecurrenceError,
    WhenBlocked,
    parse_recurrence,
)
from bot.domain.tenancy import Organisation
from bot.errors import ConflictError, NotFoundError, RefusedError
from scheduler.triggers import Planned, ScheduleTrigger, first_sendable, plan

GRACE_MAX_MINUTES = 7 * 24 * 60


class ScheduleProblem(StrEnum):
    RECURRENCE = "recurrence"  # the rule cannot be read
    TIMEZONE = "timezone"  # not an IANA time zone
    GRACE = "grace"  # the grace window is out of range
    NEVER_FIRES = "never_fires"  # its times never come
    ALWAYS_BLOCKED = "always_blocked"  # every time falls in quiet hours, a weekend or a holiday
    TIME = "time"  # the picked time of day is missing or not a time
    DAYS = "days"  # a weekly rule without a day
    INTERVAL = "interval"  # the number of weeks is out of range
    DAY_OF_MONTH = "day_of_month"  # the day of the month is out of range
    NAME_MISSING = "name_missing"  # a schedule needs a name
    NAME_TAKEN = "name_taken"  # another schedule of the organisation has this name
    NOT_FOUND = "not_found"  # there is no schedule of that name


class ScheduleRefusedError(RefusedError[ScheduleProblem]):
    """A schedule that cannot work as asked."""


def check_rule(recurrence: str, timezone: str | None, grace_minutes: int) -> Recurrence:
    """The parsed recurrence, once the rule, the time zone and the grace window are all valid."""
    try:
        parsed = parse_recurrence(recurrence)
    except RecurrenceError as exc:
        raise ScheduleRefusedError(ScheduleProblem.RECURRENCE, str(exc)) from None
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleRefusedError(
                ScheduleProblem.TIMEZONE, f"'{timezone}' is not a known IANA time zone"
            ) from None
    if not 0 <= grace_minutes <= GRACE_MAX_MINUTES:
        raise ScheduleRefusedError(
            ScheduleProblem.GRACE, f"must be between 0 and {GRACE_MAX_MINUTES} minutes (a week)"
        )
    return parsed


def first_post(
    recurrence: Recurrence,
    timezone: str,
    anchor: date,
    calendar: OutreachCalendar,
    when_blocked: WhenBlocked,
    now: datetime,
) -> Planned:
    """The first occurrence that would be posted; refused when there is none (within two years)."""
    trigger = ScheduleTrigger(recurrence, timezone, anchor)
    first = first_sendable(trigger, calendar, when_blocked, now)
    if first is not None:
        return first
    if trigger.next_after(now) is None:
        raise ScheduleRefusedError(
            ScheduleProblem.NEVER_FIRES, "the schedule can never fire: its times never come"
        )
    raise ScheduleRefusedError(
        ScheduleProblem.ALWAYS_BLOCKED,
        "the schedule can never fire: every time falls in quiet hours, a weekend or a holiday; change the time "
        "or use --when-blocked defer",
    )


def next_post(schedule: Schedule, calendar: OutreachCalendar, now: datetime) -> datetime | None:
    """When a schedule posts next (a paused one: never), within two years."""
    if not schedule.enabled:
        return None
    trigger = ScheduleTrigger(schedule.recurrence, schedule.timezone, schedule.anchor)
    first = first_sendable(trigger, calendar, schedule.when_blocked, now)
    return None if first is None else first.send_at


# --- the rule as pickers choose it -----------------------------------------------------------------------


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKDAYS = "weekdays"
    WEEKLY = "weekly"  # on chosen days, every n weeks
    MONTHLY = "monthly"  # on a day of the month
    TEXT = "text"  # written by hand (anything the parser reads, cron included)


_DUTCH_DAY = {
    "mon": "maandag",
    "tue": "dinsdag",
    "wed": "woensdag",
    "thu": "donderdag",
    "fri": "vrijdag",
    "sat": "zaterdag",
    "sun": "zondag",
}
_SIMPLE_NUMBER = re.compile(r"\d{1,2}")


@dataclass(frozen=True, slots=True)
class RuleChoice:
    """What the console's pickers say: how often, on which days, at what time (or a rule written by hand)."""

    frequency: Frequency = Frequency.WEEKLY
    days: tuple[str, ...] = ("mon",)
    interval: int = 1
    day_of_month: int = 1
    at: str = "09:00"  # HH:MM, as <input type=time> sends it
    text: str = ""

    def text_rule(self) -> str:  # noqa: PLR0911 - one rule per frequency
        """The rule in words the parser reads; refused with the field's problem code."""
        if self.frequency is Frequency.TEXT:
            return self.text.strip()
        at = _clock(self.at)
        if self.frequency is Frequency.DAILY:
            return f"elke dag om {at}"
        if self.frequency is Frequency.WEEKDAYS:
            return f"elke werkdag om {at}"
        if self.frequency is Frequency.MONTHLY:
            if not 1 <= self.day_of_month <= 31:
                raise ScheduleRefusedError(ScheduleProblem.DAY_OF_MONTH, "the day of the month must be 1–31")
            return f"maandelijks op dag {self.day_of_month} om {at}"
        days = [d for d in DAYS if d in self.days]
        if not days:
            raise ScheduleRefusedError(ScheduleProblem.DAYS, "choose at least one day of the week")
        if not 1 <= self.interval <= 52:
            raise ScheduleRefusedError(
                ScheduleProblem.INTERVAL, "the number of weeks must be between 1 and 52"
            )
        names = ", ".join(_DUTCH_DAY[d] for d in days)
        if self.interval == 1:
            return f"elke {names} om {at}"
        if self.interval == 2:
            return f"om de week op {names} om {at}"
        return f"elke {self.interval} weken op {names} om {at}"


def _clock(text: str) -> str:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::\d{2})?", text.strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ScheduleRefusedError(ScheduleProblem.TIME, f"'{text}' is not a time of day like 09:30")
    return f"{int(match[1]):02d}:{match[2]}"


def choice_of(recurrence: Recurrence) -> RuleChoice:  # noqa: PLR0911 - one answer per form of rule
    """The pickers that write this rule again, or the rule as text when pickers cannot say it."""
    as_text = RuleChoice(frequency=Frequency.TEXT, text=recurrence.text)
    if not (_SIMPLE_NUMBER.fullmatch(recurrence.hour) and _SIMPLE_NUMBER.fullmatch(recurrence.minute)):
        return as_text
    if recurrence.month != "*":
        return as_text
    at = f"{int(recurrence.hour):02d}:{int(recurrence.minute):02d}"
    dow, day = recurrence.day_of_week, recurrence.day
    if day == "*" and dow == "*" and recurrence.week_interval == 1:
        return RuleChoice(frequency=Frequency.DAILY, at=at)
    if day == "*" and dow == "mon-fri" and recurrence.week_interval == 1:
        return RuleChoice(frequency=Frequency.WEEKDAYS, at=at)
    if day == "*" and dow != "*" and all(d in DAYS for d in dow.split(",")):
        return RuleChoice(
            frequency=Frequency.WEEKLY, days=tuple(dow.split(",")), interval=recurrence.week_interval, at=at
        )
    if dow == "*" and _SIMPLE_NUMBER.fullmatch(day) and recurrence.week_interval == 1:
        return RuleChoice(frequency=Frequency.MONTHLY, day_of_month=int(day), at=at)
    return as_text


def next_occurrences(
    recurrence: Recurrence,
    timezone: str,
    anchor: date,
    calendar: OutreachCalendar,
    when_blocked: WhenBlocked,
    now: datetime,
    count: int = 5,
) -> list[Planned]:
    """The next `count` occurrences (skipped and deferred ones too), looking at most two years ahead."""
    trigger = ScheduleTrigger(recurrence, timezone, anchor)
    return plan(trigger, calendar, when_blocked, now, now + timedelta(days=2 * 366), limit=count)


# --- editing ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduleChanges:
    """What an edit changes; None leaves a field as it is."""

    name: str | None = None
    item_id: str | None = None
    clear_item: bool = False  # back to the rotation
    audience: Audience | None = None
    recurrence: str | None = None
    when_blocked: WhenBlocked | None = None
    timezone: str | None = None
    grace_minutes: int | None = None


class ScheduleStore(Protocol):
    """What adding, editing and removing need of the schedule repository (SqlScheduleRepository)."""

    async def get(self, organisation: Organisation, name: str) -> Schedule: ...

    async def add(
        self,
        organisation: Organisation,
        *,
        name: str,
        what: What,
        item_id: str | None,
        audience: Audience,
        recurrence: str,
        anchor: date,
        timezone: str | None,
        locale: str | None,
        when_blocked: WhenBlocked,
        grace_minutes: int,
        now: datetime,
    ) -> Schedule: ...

    async def remove(self, organisation: Organisation, name: str) -> None: ...

    async def calendar(self, organisation_id: UUID) -> OutreachCalendar: ...

    async def update(
        self,
        organisation: Organisation,
        schedule: Schedule,
        *,
        recurrence_text: str,
        timezone: str | None,
        moved: bool,
        now: datetime,
    ) -> Schedule: ...


NAME_MAX = 100


def check_name(name: str) -> str:
    cleaned = " ".join(name.split())[:NAME_MAX]
    if not cleaned:
        raise ScheduleRefusedError(ScheduleProblem.NAME_MISSING, "a schedule needs a name")
    return cleaned


@dataclass(frozen=True, slots=True)
class NewSchedule:
    """A schedule as asked for; None for the time zone and language means the organisation's."""

    name: str
    what: What
    item_id: str | None
    audience: Audience
    recurrence: str
    when_blocked: WhenBlocked
    grace_minutes: int
    timezone: str | None = None
    locale: str | None = None
    anchor: date | None = None  # the date "every other week" counts from; None: today


async def add_schedule(
    store: ScheduleStore, organisation: Organisation, new: NewSchedule, now: datetime
) -> tuple[Schedule, Planned]:
    """Check and store a new schedule; returns it and its first post. Refused (with a code) when the name is
    missing or taken, the rule, time zone or grace window is wrong, or the schedule can never post."""
    name = check_name(new.name)
    rule = check_rule(new.recurrence, new.timezone, new.grace_minutes)
    timezone = new.timezone or organisation.timezone
    anchor = new.anchor or now.astimezone(ZoneInfo(timezone)).date()
    calendar = await store.calendar(organisation.id)
    first = first_post(rule, timezone, anchor, calendar, new.when_blocked, now)
    try:
        saved = await store.add(
            organisation,
            name=name,
            what=new.what,
            item_id=new.item_id,
            audience=new.audience,
            recurrence=rule.text,
            anchor=anchor,
            timezone=new.timezone,
            locale=new.locale,
            when_blocked=new.when_blocked,
            grace_minutes=new.grace_minutes,
            now=now,
        )
    except ConflictError:
        raise ScheduleRefusedError(
            ScheduleProblem.NAME_TAKEN, f"a schedule named '{name}' exists already in {organisation.slug}"
        ) from None
    return saved, first


async def remove_schedule(store: ScheduleStore, organisation: Organisation, name: str) -> None:
    """Remove a schedule (what it queued already is still sent); refused when there is none of that name."""
    try:
        await store.remove(organisation, name)
    except NotFoundError:
        raise ScheduleRefusedError(
            ScheduleProblem.NOT_FOUND, f"no schedule '{name}' in {organisation.slug}"
        ) from None


async def edit_schedule(
    store: ScheduleStore,
    organisation: Organisation,
    name: str,
    changes: ScheduleChanges,
    now: datetime,
) -> tuple[Schedule, Planned]:
    """Change a schedule in place (its history stays with it); returns it and its first post from now.

    The same checks as a new schedule. A changed rule counts "every other week" from today and sends nothing
    that fell due before the change."""
    try:
        current = await store.get(organisation, name)
    except NotFoundError:
        raise ScheduleRefusedError(
            ScheduleProblem.NOT_FOUND, f"no schedule '{name}' in {organisation.slug}"
        ) from None
    recurrence_text = current.recurrence.text if changes.recurrence is None else changes.recurrence
    timezone = changes.timezone or current.timezone
    grace = current.grace_minutes if changes.grace_minutes is None else changes.grace_minutes
    rule = check_rule(recurrence_text, changes.timezone, grace)
    moved = rule != current.recurrence or timezone != current.timezone
    anchor = now.astimezone(ZoneInfo(timezone)).date() if moved else current.anchor
    when_blocked = changes.when_blocked or current.when_blocked
    calendar = await store.calendar(organisation.id)
    first = first_post(rule, timezone, anchor, calendar, when_blocked, now)
    edited = replace(
        current,
        name=current.name if changes.name is None else check_name(changes.name),
        item_id=None if changes.clear_item else (changes.item_id or current.item_id),
        audience=changes.audience or current.audience,
        recurrence=rule,
        anchor=anchor,
        timezone=timezone,
        when_blocked=when_blocked,
        grace_minutes=grace,
    )
    try:
        saved = await store.update(
            organisation,
            edited,
            recurrence_text=recurrence_text,
            timezone=changes.timezone,
            moved=moved,
            now=now,
        )
    except ConflictError:
        raise ScheduleRefusedError(
            ScheduleProblem.NAME_TAKEN,
            f"a schedule named '{edited.name}' exists already in {organisation.slug}",
        ) from None
    return saved, first

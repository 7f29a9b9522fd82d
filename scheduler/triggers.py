"""Fire times of a schedule, in its time zone, with APScheduler's CronTrigger (correct across DST changes).

`plan()` lists the occurrences in a window and what becomes of each under the organisation's calendar;
`ScheduleTrigger` is the same rule as an APScheduler trigger, used only to wake the materialiser on time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from bot.domain.recurrence import (
    OutreachCalendar,
    Recurrence,
    RecurrenceError,
    SkipReason,
    WhenBlocked,
    week_matches,
)

MAX_PLANNED = 1000
NEVER_HORIZON = timedelta(days=2 * 366)
_TICK = timedelta(microseconds=1)


def cron_trigger(recurrence: Recurrence, timezone: str) -> CronTrigger:
    try:
        return CronTrigger(
            minute=recurrence.minute,
            hour=recurrence.hour,
            day=recurrence.day,
            month=recurrence.month,
            day_of_week=recurrence.day_of_week,
            second=0,
            timezone=ZoneInfo(timezone),
        )
    except ValueError as exc:
        raise RecurrenceError(f"'{recurrence.text}': {exc}") from None


class ScheduleTrigger(BaseTrigger):  # type: ignore[misc]
    """A CronTrigger that fires only in every n-th week counted from the anchor's week."""

    def __init__(self, recurrence: Recurrence, timezone: str, anchor: date) -> None:
        self.recurrence = recurrence
        self.zone = ZoneInfo(timezone)
        self.anchor = anchor
        self.cron = cron_trigger(recurrence, timezone)

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after `moment` (UTC), or None when the rule cannot fire any more."""
        cursor = moment
        limit = moment + NEVER_HORIZON
        while True:
            fire: datetime | None = self.cron.get_next_fire_time(None, cursor + _TICK)
            if fire is None or fire > limit:
                return None
            if week_matches(self.recurrence, self.anchor, fire.astimezone(self.zone).date()):
                return fire.astimezone(UTC)
            cursor = fire

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        start = now - _TICK if previous_fire_time is None else max(previous_fire_time, now - _TICK)
        return self.next_after(start)

    def __str__(self) -> str:
        return f"outreach[{self.recurrence.text}]"


class Fate:
    SEND = "send"
    SKIPPED_BLOCKED = "skipped"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class Planned:
    """One occurrence in a window: when it fires, when it would be sent, and what becomes of it."""

    occurs_at: datetime  # UTC
    send_at: datetime | None  # UTC; None when skipped
    fate: str
    reason: SkipReason | None = None

    def local(self, zone: str) -> datetime:
        return self.occurs_at.astimezone(ZoneInfo(zone))


def plan(
    trigger: ScheduleTrigger,
    calendar: OutreachCalendar,
    when_blocked: WhenBlocked,
    after: datetime,
    until: datetime,
    *,
    now: datetime | None = None,
    grace: timedelta | None = None,
    limit: int = MAX_PLANNED,
) -> list[Planned]:
    """Occurrences in (after, until]. With `now` and `grace`, occurrences older than the grace window are MISSED."""
    found: list[Planned] = []
    cursor = after
    while len(found) < limit:
        fire = trigger.next_after(cursor)
        if fire is None or fire > until:
            break
        cursor = fire
        local = fire.astimezone(trigger.zone)
        send_local: datetime | None = local
        reason = calendar.blocked_because(local)
        fate = Fate.SEND
        if reason is not None:
            if when_blocked is WhenBlocked.SKIP:
                send_local, fate = None, Fate.SKIPPED_BLOCKED
            else:
                send_local = calendar.next_allowed(local)
                if send_local is None:
                    fate = Fate.SKIPPED_BLOCKED
        send_at = None if send_local is None else send_local.astimezone(UTC)
        if fate == Fate.SEND and now is not None and grace is not None and now - fire > grace:
            fate, send_at, reason = Fate.MISSED, None, SkipReason.MISSED
        found.append(Planned(fire, send_at, fate, reason))
    return found


def first_sendable(
    trigger: ScheduleTrigger, calendar: OutreachCalendar, when_blocked: WhenBlocked, after: datetime
) -> Planned | None:
    """The first occurrence after `after` that would actually be posted (within two years), or None."""
    cursor = after
    horizon = after + NEVER_HORIZON
    while True:
        batch = plan(trigger, calendar, when_blocked, cursor, horizon, limit=200)
        for planned in batch:
            if planned.fate == Fate.SEND:
                return planned
        if len(batch) < 200:
            return None
        cursor = batch[-1].occurs_at


#: Posts deferred to the same moment go out this far apart…
DEFER_SPACING = timedelta(minutes=10)
#: …squeezed closer when there are many, so that all of them go out within this window after that moment.
DEFER_WINDOW = timedelta(hours=3)


def spread_deferred(
    planned: Iterable[tuple[Hashable, Planned]],
) -> dict[tuple[Hashable, datetime], datetime]:
    """When deferred posts would all go out at one moment (the first allowed moment after a weekend, a holiday or
    quiet hours), spread them over that morning: in the order they were due (then by schedule key), one every
    DEFER_SPACING, closer together when needed so that all fall within DEFER_WINDOW.

    `planned` is every planned occurrence of an organisation's schedules, keyed by schedule. Returns the new send
    moment of each deferred one, keyed by (schedule key, occurrence time). Deterministic: every replica, the
    materialiser and the console compute the same moments from the same schedules."""
    moments: dict[datetime, list[tuple[datetime, str, Hashable]]] = defaultdict(list)
    for key, item in planned:
        if item.fate == Fate.SEND and item.send_at is not None and item.send_at != item.occurs_at:
            moments[item.send_at].append((item.occurs_at, str(key), key))
    spread: dict[tuple[Hashable, datetime], datetime] = {}
    for moment, items in moments.items():
        items.sort(key=lambda entry: (entry[0], entry[1]))
        step = min(DEFER_SPACING, timedelta(seconds=int(DEFER_WINDOW.total_seconds() // len(items))))
        for index, (occurs_at, _name, key) in enumerate(items):
            spread[(key, occurs_at)] = moment + step * index
    return spread

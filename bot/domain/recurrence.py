"""Recurrences as counsellors write them, and the organisation's calendar (quiet hours, weekends, holidays).

A recurrence is parsed into cron fields plus a week interval ("every other Tuesday" is a weekly Tuesday rule that
fires only in every second week counted from an anchor date). Turning the fields into fire times is the
scheduler's job (APScheduler's CronTrigger, which is correct across daylight-saving changes); this module only
decides what was meant and whether a local moment is allowed.

Accepted forms (English or Dutch day names, 24-hour times)::

    daily at 09:30                every day at 9:30
    weekdays at 09:30             every monday, thursday at 12:00
    every other tuesday at 09:30  every 3 weeks on friday at 16:00
    monthly on day 1 at 09:00     first monday of the month at 09:30
    om de maandag 9 uur           eerste maandag van de maand om 09:30
    cron 30 9 * * tue             (minute hour day-of-month month day-of-week)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum


class RecurrenceError(ValueError):
    """The text is not a recurrence we understand; the message says what is accepted."""


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {
    **{d: d for d in DAYS},
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
    "maandag": "mon",
    "dinsdag": "tue",
    "woensdag": "wed",
    "donderdag": "thu",
    "vrijdag": "fri",
    "zaterdag": "sat",
    "zondag": "sun",
}
_ORDINALS = {
    "first": "1st",
    "second": "2nd",
    "third": "3rd",
    "fourth": "4th",
    "last": "last",
    "eerste": "1st",
    "tweede": "2nd",
    "derde": "3rd",
    "vierde": "4th",
    "laatste": "last",
}
_TIME = r"(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2})|\s*(?:uur|u))"
_CLOCK = r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})"
_AT = r"(?:(?:at|om) )?"  # "om 9 uur" and "9 uur" alike
_DAYLIST = r"(?P<days>[a-z]+(?:\s*(?:,|and|en)\s*[a-z]+)*)"

HELP = (
    "write e.g. 'daily at 09:30', 'weekdays at 09:30', 'every monday, thursday at 12:00', "
    "'every other tuesday at 09:30', 'every 3 weeks on friday at 16:00', 'monthly on day 1 at 09:00', "
    "'first monday of the month at 09:30' or 'cron 30 9 * * tue'"
)


@dataclass(frozen=True, slots=True)
class Recurrence:
    """Cron fields in the schedule's time zone, plus a week interval counted from the anchor's week."""

    text: str
    minute: str
    hour: str
    day: str = "*"
    month: str = "*"
    day_of_week: str = "*"
    week_interval: int = 1


def parse_recurrence(text: str) -> Recurrence:
    source = " ".join(text.strip().lower().split())
    if source.startswith("cron"):
        fields = source.removeprefix("cron").strip(" :").split()
        if len(fields) != 5:
            raise RecurrenceError(
                "a cron recurrence has five fields: minute hour day-of-month month day-of-week"
            )
        minute, hour, day, month, dow = fields
        return Recurrence(text.strip(), minute, hour, day, month, dow)

    patterns: list[tuple[str, str]] = [
        (rf"^(?:daily|every day|dagelijks|elke dag) {_AT}{_TIME}$", "daily"),
        (rf"^(?:weekdays|every weekday|werkdagen|elke werkdag) {_AT}{_TIME}$", "weekdays"),
        (rf"^(?:every|elke) {_DAYLIST} {_AT}{_TIME}$", "weekly"),
        (rf"^(?:every other|om de week(?: op)?|om de) {_DAYLIST} {_AT}{_TIME}$", "biweekly"),
        (rf"^(?:every|elke) (?P<n>\d+) (?:weeks|weken) (?:on|op) {_DAYLIST} {_AT}{_TIME}$", "nweekly"),
        (rf"^(?:monthly on day|maandelijks op dag) (?P<dom>\d{{1,2}}) {_AT}{_TIME}$", "monthly"),
        (
            rf"^(?P<ord>first|second|third|fourth|last) (?P<day>[a-z]+) of the month {_AT}{_TIME}$",
            "nth",
        ),
        (
            rf"^(?P<ord>eerste|tweede|derde|vierde|laatste) (?P<day>[a-z]+) van de maand {_AT}{_TIME}$",
            "nth",
        ),
    ]
    for pattern, form in patterns:
        match = re.match(pattern, source)
        if match is None:
            continue
        hour, minute = _clock_time(match["hour"], match["minute"] or "00")
        groups = match.groupdict()
        if form == "daily":
            return Recurrence(text.strip(), minute, hour)
        if form == "weekdays":
            return Recurrence(text.strip(), minute, hour, day_of_week="mon-fri")
        if form in {"weekly", "biweekly", "nweekly"}:
            days = _days(groups["days"])
            interval = {"weekly": 1, "biweekly": 2}.get(form) or int(groups["n"])
            if not 1 <= interval <= 52:
                raise RecurrenceError("the number of weeks must be between 1 and 52")
            return Recurrence(text.strip(), minute, hour, day_of_week=days, week_interval=interval)
        if form == "monthly":
            dom = int(groups["dom"])
            if not 1 <= dom <= 31:
                raise RecurrenceError("the day of the month must be between 1 and 31")
            return Recurrence(text.strip(), minute, hour, day=str(dom))
        day = _days(groups["day"])
        return Recurrence(text.strip(), minute, hour, day=f"{_ORDINALS[groups['ord']]} {day}")
    raise RecurrenceError(f"'{text.strip()}' is not a recurrence I understand: {HELP}")


def _clock_time(hour: str, minute: str) -> tuple[str, str]:
    h, m = int(hour), int(minute)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise RecurrenceError(f"{hour}:{minute} is not a time of day (00:00–23:59)")
    return str(h), str(m)


def _days(text: str) -> str:
    names = [n for n in re.split(r"\s*(?:,|\band\b|\ben\b)\s*", text) if n]
    days: list[str] = []
    for name in names:
        day = _DAY_NAMES.get(name)
        if day is None:
            raise RecurrenceError(f"'{name}' is not a day of the week")
        if day not in days:
            days.append(day)
    return ",".join(sorted(days, key=DAYS.index))


def week_matches(recurrence: Recurrence, anchor: date, local_day: date) -> bool:
    """Whether `local_day` lies in a week the recurrence fires in (weeks start on Monday)."""
    if recurrence.week_interval == 1:
        return True
    anchor_monday = anchor - timedelta(days=anchor.weekday())
    day_monday = local_day - timedelta(days=local_day.weekday())
    return ((day_monday - anchor_monday).days // 7) % recurrence.week_interval == 0


class WhenBlocked(StrEnum):
    SKIP = "skip"  # an occurrence in quiet hours, a weekend or a holiday is not sent (and logged)
    DEFER = "defer"  # it is sent at the next allowed moment instead


class SkipReason(StrEnum):
    """Why an occurrence is not posted at its moment: a code the console and the logs map to their own words."""

    HOLIDAY = "holiday"
    WEEKEND = "weekend"
    QUIET_HOURS = "quiet hours"
    MISSED = "missed while the service was down"


@dataclass(frozen=True, slots=True)
class OutreachCalendar:
    """When an organisation may be written to, in its local time."""

    quiet_start: time = time(20, 0)
    quiet_end: time = time(7, 0)
    skip_weekends: bool = True
    holidays: frozenset[date] = frozenset()  # the organisation's own days off
    country: str = ""  # whose public holidays apply ("" = none)
    public_holidays: frozenset[date] = field(default=frozenset(), compare=False, repr=False)  # of `country`

    def day_off(self, day: date) -> bool:
        return day in self.holidays or day in self.public_holidays

    def in_quiet_hours(self, moment: time) -> bool:
        if self.quiet_start == self.quiet_end:
            return False
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= moment < self.quiet_end
        return moment >= self.quiet_start or moment < self.quiet_end

    def blocked_because(self, local: datetime) -> SkipReason | None:
        """Why nothing may be posted at this local moment (a holiday, the weekend, quiet hours), or None."""
        if self.day_off(local.date()):
            return SkipReason.HOLIDAY
        if self.skip_weekends and local.weekday() >= 5:
            return SkipReason.WEEKEND
        if self.in_quiet_hours(local.time()):
            return SkipReason.QUIET_HOURS
        return None

    def next_allowed(self, local: datetime) -> datetime | None:
        """The first allowed local moment at or after `local` (minute steps over at most 60 days), or None."""
        candidate = local
        for _ in range(60):
            if self.blocked_because(candidate) is None:
                return candidate
            day_start = candidate.replace(hour=self.quiet_end.hour, minute=self.quiet_end.minute, second=0)
            if (
                not self.day_off(candidate.date())
                and not (self.skip_weekends and candidate.weekday() >= 5)
                and candidate < day_start
            ):
                candidate = day_start
                continue
            candidate = (candidate + timedelta(days=1)).replace(
                hour=self.quiet_end.hour, minute=self.quiet_end.minute, second=0, microsecond=0
            )
        return None

    def to_json(self) -> str:
        return json.dumps(sorted(d.isoformat() for d in self.holidays))


def parse_clock(text: str) -> time:
    match = re.fullmatch(_CLOCK, text.strip())
    if match is None:
        raise RecurrenceError(f"'{text}' is not a time of day like 08:00")
    hour, minute = _clock_time(match["hour"], match["minute"])
    return time(int(hour), int(minute))


def parse_holidays(text: str) -> frozenset[date]:
    return frozenset(date.fromisoformat(d) for d in json.loads(text or "[]"))

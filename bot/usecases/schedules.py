"""Checking a new outreach schedule: the same rules for `vipbot schedule add` and the console's schedule form.

A refusal is a `ScheduleRefusedError` with a `ScheduleProblem` code: the CLI prints its one-line message, the console
maps the code to a locale key (`console.schedule.problem.<code>`).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.recurrence import (
    OutreachCalendar,
    Recurrence,
    RecurrenceError,
    WhenBlocked,
    parse_recurrence,
)
from bot.errors import VipbotError
from scheduler.triggers import Planned, ScheduleTrigger, first_sendable

GRACE_MAX_MINUTES = 7 * 24 * 60


class ScheduleProblem(StrEnum):
    RECURRENCE = "recurrence"  # the rule cannot be read
    TIMEZONE = "timezone"  # not an IANA time zone
    GRACE = "grace"  # the grace window is out of range
    NEVER_FIRES = "never_fires"  # its times never come
    ALWAYS_BLOCKED = "always_blocked"  # every time falls in quiet hours, a weekend or a holiday


class ScheduleRefusedError(VipbotError):
    """A schedule that cannot work as asked; the message is one line for the CLI, the code for the console."""

    def __init__(self, problem: ScheduleProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


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

"""Recurrences, calendars and fire times: pure, with fixed instants (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.domain.recurrence import (
    OutreachCalendar,
    RecurrenceError,
    WhenBlocked,
    parse_recurrence,
)
from scheduler.triggers import Fate, ScheduleTrigger, first_sendable, plan

AMS = "Europe/Amsterdam"
NO_RULES = OutreachCalendar(quiet_start=time(0, 0), quiet_end=time(0, 0), skip_weekends=False)


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("daily at 09:30", ("30", "9", "*", "*", "*", 1)),
        ("Every day at 9.05", ("5", "9", "*", "*", "*", 1)),
        ("weekdays at 08:45", ("45", "8", "*", "*", "mon-fri", 1)),
        ("every monday, thursday at 12:00", ("0", "12", "*", "*", "mon,thu", 1)),
        ("elke dinsdag en vrijdag om 10:15", ("15", "10", "*", "*", "tue,fri", 1)),
        ("every other Tuesday at 09:30", ("30", "9", "*", "*", "tue", 2)),
        ("every 3 weeks on friday at 16:00", ("0", "16", "*", "*", "fri", 3)),
        ("monthly on day 1 at 09:00", ("0", "9", "1", "*", "*", 1)),
        ("first monday of the month at 09:30", ("30", "9", "1st mon", "*", "*", 1)),
        ("cron 30 9 * * tue", ("30", "9", "*", "*", "tue", 1)),
    ],
)
def test_recurrences_people_write_are_understood(text: str, fields: tuple[object, ...]) -> None:
    r = parse_recurrence(text)
    assert (r.minute, r.hour, r.day, r.month, r.day_of_week, r.week_interval) == fields


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("whenever", "not a recurrence I understand"),
        ("daily at 25:00", "not a time of day"),
        ("every funday at 09:00", "not a day of the week"),
        ("cron 30 9 * *", "five fields"),
        ("every 99 weeks on monday at 09:00", "between 1 and 52"),
    ],
)
def test_nonsense_is_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(RecurrenceError, match=says):
        parse_recurrence(text)


def test_local_time_holds_across_both_daylight_saving_changes() -> None:
    trigger = ScheduleTrigger(parse_recurrence("daily at 09:30"), AMS, date(2026, 3, 1))
    spring = plan(
        trigger,
        NO_RULES,
        WhenBlocked.SKIP,
        datetime(2026, 3, 27, tzinfo=UTC),
        datetime(2026, 3, 31, tzinfo=UTC),
    )
    # CET (+01:00) until Sunday 29 March 02:00, CEST (+02:00) after.
    assert [p.occurs_at for p in spring] == [
        datetime(2026, 3, 27, 8, 30, tzinfo=UTC),
        datetime(2026, 3, 28, 8, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 7, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 7, 30, tzinfo=UTC),
    ]
    autumn = plan(
        trigger,
        NO_RULES,
        WhenBlocked.SKIP,
        datetime(2026, 10, 24, tzinfo=UTC),
        datetime(2026, 10, 27, tzinfo=UTC),
    )
    assert [p.occurs_at.hour for p in autumn] == [7, 8, 8]  # 24 Oct CEST, 25 Oct onward CET
    assert all(p.local(AMS).strftime("%H:%M") == "09:30" for p in spring + autumn)


def test_every_other_tuesday_counts_weeks_from_the_anchor() -> None:
    trigger = ScheduleTrigger(parse_recurrence("every other tuesday at 09:30"), AMS, date(2026, 3, 3))
    found = plan(
        trigger,
        NO_RULES,
        WhenBlocked.SKIP,
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 30, tzinfo=UTC),
    )
    assert [p.local(AMS).date() for p in found] == [
        date(2026, 3, 3),
        date(2026, 3, 17),
        date(2026, 3, 31),
        date(2026, 4, 14),
        date(2026, 4, 28),
    ]


def test_quiet_hours_weekends_and_holidays_are_skipped_or_deferred() -> None:
    calendar = OutreachCalendar(
        quiet_start=time(18, 0),
        quiet_end=time(8, 0),
        skip_weekends=True,
        holidays=frozenset({date(2026, 4, 27)}),
    )
    trigger = ScheduleTrigger(parse_recurrence("daily at 07:30"), AMS, date(2026, 4, 1))
    window = (datetime(2026, 4, 23, tzinfo=UTC), datetime(2026, 4, 28, 12, tzinfo=UTC))
    skipped = plan(trigger, calendar, WhenBlocked.SKIP, *window)
    assert {p.fate for p in skipped} == {Fate.SKIPPED_BLOCKED}
    assert [p.reason for p in skipped] == [
        "quiet hours",
        "quiet hours",
        "weekend",
        "weekend",
        "holiday",
        "quiet hours",
    ]

    deferred = plan(trigger, calendar, WhenBlocked.DEFER, *window)
    sends = [(p.local(AMS).date(), p.send_at) for p in deferred]
    # Thursday 07:30 → 08:00 the same day; Saturday, Sunday and King's Day (Monday) → Tuesday 08:00.
    assert sends[0] == (date(2026, 4, 23), datetime(2026, 4, 23, 6, 0, tzinfo=UTC))
    assert sends[2][1] == sends[3][1] == sends[4][1] == datetime(2026, 4, 28, 6, 0, tzinfo=UTC)


def test_a_schedule_that_can_never_fire_is_recognised() -> None:
    never = ScheduleTrigger(parse_recurrence("cron 0 9 31 2 *"), AMS, date(2026, 1, 1))
    assert never.next_after(datetime(2026, 1, 1, tzinfo=UTC)) is None
    weekend_only = ScheduleTrigger(parse_recurrence("every saturday at 10:00"), AMS, date(2026, 1, 1))
    calendar = OutreachCalendar()
    assert first_sendable(weekend_only, calendar, WhenBlocked.SKIP, datetime(2026, 1, 1, tzinfo=UTC)) is None
    assert (
        first_sendable(weekend_only, calendar, WhenBlocked.DEFER, datetime(2026, 1, 1, tzinfo=UTC))
        is not None
    )


def test_missed_occurrences_beyond_the_grace_window_are_marked() -> None:
    trigger = ScheduleTrigger(parse_recurrence("daily at 09:30"), AMS, date(2026, 3, 1))
    now = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    found = plan(
        trigger,
        NO_RULES,
        WhenBlocked.SKIP,
        datetime(2026, 3, 2, tzinfo=UTC),
        now,
        now=now,
        grace=timedelta(hours=2),
    )
    assert [p.fate for p in found] == [Fate.MISSED, Fate.MISSED, Fate.MISSED, Fate.SEND]

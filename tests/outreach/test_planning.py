"""Planning: Dutch recurrences and the console's pickers, editing a schedule in place (one use case for the CLI and
the console), public holidays from the `holidays` package, and deferred posts spread over the next morning."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.domain.clock import FixedClock
from bot.domain.outreach import Audience, What
from bot.domain.recurrence import OutreachCalendar, SkipReason, WhenBlocked, parse_recurrence
from bot.errors import VipbotError
from bot.storage.tables_outreach import OutreachOccurrenceRow
from bot.usecases.schedules import (
    Frequency,
    RuleChoice,
    ScheduleChanges,
    ScheduleProblem,
    ScheduleRefusedError,
    choice_of,
    edit_schedule,
)
from scheduler.triggers import DEFER_WINDOW, Fate, Planned, spread_deferred
from tests.outreach.conftest import Pipeline
from tests.outreach.test_cli import Cli, cli  # noqa: F401  (fixture)

AMS = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("om de maandag 9 uur", ("0", "9", "*", "*", "mon", 2)),
        ("elke dag 9 uur", ("0", "9", "*", "*", "*", 1)),
        ("elke werkdag om 8u", ("0", "8", "*", "*", "mon-fri", 1)),
        ("om de week op dinsdag om 12:00", ("0", "12", "*", "*", "tue", 2)),
        ("eerste maandag van de maand om 09:30", ("30", "9", "1st mon", "*", "*", 1)),
        ("laatste vrijdag van de maand 16 uur", ("0", "16", "last fri", "*", "*", 1)),
    ],
)
def test_dutch_recurrences_are_understood(text: str, fields: tuple[object, ...]) -> None:
    r = parse_recurrence(text)
    assert (r.minute, r.hour, r.day, r.month, r.day_of_week, r.week_interval) == fields


@pytest.mark.parametrize(
    "choice",
    [
        RuleChoice(Frequency.DAILY, at="07:45"),
        RuleChoice(Frequency.WEEKDAYS, at="09:00"),
        RuleChoice(Frequency.WEEKLY, days=("thu", "mon"), at="12:00"),
        RuleChoice(Frequency.WEEKLY, days=("tue",), interval=2, at="09:30"),
        RuleChoice(Frequency.WEEKLY, days=("fri",), interval=3, at="16:00"),
        RuleChoice(Frequency.MONTHLY, day_of_month=15, at="10:00"),
    ],
)
def test_pickers_write_a_dutch_rule_that_reads_back_into_the_same_pickers(choice: RuleChoice) -> None:
    rule = parse_recurrence(choice.text_rule())
    again = choice_of(rule)
    assert again.frequency is choice.frequency
    assert again.at == choice.at
    if choice.frequency is Frequency.WEEKLY:
        assert set(again.days) == set(choice.days)
        assert again.interval == choice.interval
    if choice.frequency is Frequency.MONTHLY:
        assert again.day_of_month == choice.day_of_month
    assert choice_of(parse_recurrence("cron 0 9 * 1-6 *")).frequency is Frequency.TEXT


@pytest.mark.parametrize(
    ("choice", "problem"),
    [
        (RuleChoice(Frequency.WEEKLY, days=()), ScheduleProblem.DAYS),
        (RuleChoice(Frequency.WEEKLY, interval=53), ScheduleProblem.INTERVAL),
        (RuleChoice(Frequency.DAILY, at=""), ScheduleProblem.TIME),
        (RuleChoice(Frequency.DAILY, at="25:00"), ScheduleProblem.TIME),
        (RuleChoice(Frequency.MONTHLY, day_of_month=32), ScheduleProblem.DAY_OF_MONTH),
    ],
)
def test_pickers_are_refused_with_the_field_s_code(choice: RuleChoice, problem: ScheduleProblem) -> None:
    with pytest.raises(ScheduleRefusedError) as refused:
        choice.text_rule()
    assert refused.value.problem is problem


# --- deferred posts ------------------------------------------------------------------------------------------


def _deferred(occurs: datetime, to: datetime) -> Planned:
    return Planned(occurs.astimezone(UTC), to.astimezone(UTC), Fate.SEND, SkipReason.WEEKEND)


def test_posts_deferred_to_one_morning_are_spread_in_the_order_they_were_due() -> None:
    monday = datetime(2026, 3, 9, 7, 0, tzinfo=AMS)
    items = [
        ("sunday", _deferred(datetime(2026, 3, 8, 10, 0, tzinfo=AMS), monday)),
        ("saturday-b", _deferred(datetime(2026, 3, 7, 9, 0, tzinfo=AMS), monday)),
        ("saturday-a", _deferred(datetime(2026, 3, 7, 9, 0, tzinfo=AMS), monday)),
        ("on-time", Planned(monday.astimezone(UTC), monday.astimezone(UTC), Fate.SEND)),
    ]
    spread = spread_deferred(items)
    at = {key: spread[(key, p.occurs_at)].astimezone(AMS).strftime("%H:%M") for key, p in items[:3]}
    assert at == {"saturday-a": "07:00", "saturday-b": "07:10", "sunday": "07:20"}
    assert ("on-time", monday.astimezone(UTC)) not in spread  # not deferred: left alone
    random.Random(4).shuffle(items)
    assert spread_deferred(items) == spread  # the same from any order: every replica agrees


def test_many_deferred_posts_still_go_out_that_morning_and_never_at_one_moment() -> None:
    monday = datetime(2026, 3, 9, 7, 0, tzinfo=AMS)
    items = [
        (f"s{n:03d}", _deferred(datetime(2026, 3, 7, 9, 0, tzinfo=AMS) + timedelta(minutes=n), monday))
        for n in range(100)
    ]
    moments = sorted(spread_deferred(items).values())
    assert len(set(moments)) == 100
    assert moments[0] == monday.astimezone(UTC)
    assert moments[-1] < monday.astimezone(UTC) + DEFER_WINDOW


async def test_the_materialiser_spreads_a_weekend_s_posts_over_monday_morning(pipeline: Pipeline) -> None:
    p = pipeline
    clock = p.services.clock
    assert isinstance(clock, FixedClock)
    await p.schedules.set_calendar(p.org.id, OutreachCalendar(time(20, 0), time(7, 0), skip_weekends=True))
    column = p.services.content.catalog.columns[0].id
    for name, rule in (("zaterdag", "every saturday at 10:00"), ("zondag", "every sunday at 11:00")):
        await p.schedules.add(
            p.org,
            name=name,
            what=What.COLUMN,
            item_id=column,
            audience=Audience(groups=("linde",)),
            recurrence=rule,
            anchor=date(2026, 3, 2),
            timezone=None,
            locale=None,
            when_blocked=WhenBlocked.DEFER,
            grace_minutes=120,
            now=clock.now(),
        )
    # Each is materialised as it fires (Saturday, then Sunday): the Saturday post already keeps Monday's first
    # slot and leaves the next one for Sunday's, so the two never go out at the same moment.
    for moment in (datetime(2026, 3, 7, 10, 5, tzinfo=AMS), datetime(2026, 3, 8, 11, 5, tzinfo=AMS)):
        clock.set(moment.astimezone(UTC))
        for schedule in await p.schedules.list_schedules(p.org):
            await p.materialiser.run_schedule(schedule)
    async with p.services.sessions() as session:
        rows = (
            await session.exec(select(OutreachOccurrenceRow).order_by(col(OutreachOccurrenceRow.occurs_at)))
        ).all()
    moments = [r.send_at.replace(tzinfo=r.send_at.tzinfo or UTC).astimezone(AMS) for r in rows]
    assert [m.strftime("%a %H:%M") for m in moments] == ["Mon 07:00", "Mon 07:10"]


# --- public holidays ---------------------------------------------------------------------------------------


async def test_public_holidays_of_the_organisation_s_country_come_from_the_holidays_package(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    calendar = await p.schedules.calendar(p.org.id)
    assert calendar.country == ""  # the pipeline set a calendar without one
    await p.schedules.set_calendar(p.org.id, OutreachCalendar(time(0, 0), time(0, 0), False, country="NL"))
    calendar = await p.schedules.calendar(p.org.id)
    kingsday = datetime(2026, 4, 27, 9, 30, tzinfo=AMS)  # Koningsdag, a Monday
    assert calendar.blocked_because(kingsday) is SkipReason.HOLIDAY
    assert calendar.blocked_because(kingsday + timedelta(days=1)) is None
    assert date(2026, 12, 25) in calendar.public_holidays
    assert calendar.holidays == frozenset()  # the organisation's own days stay its own


async def test_a_new_organisation_gets_the_holidays_of_its_time_zone_s_country(pipeline: Pipeline) -> None:
    orgs = pipeline.services.organisations
    brussels = await orgs.add_organisation("Gent", "gent", "Europe/Brussels", "nl", 90)
    calendar = await pipeline.schedules.calendar(brussels.id)
    assert calendar.country == "BE"
    assert calendar.blocked_because(datetime(2026, 7, 21, 10, 0, tzinfo=ZoneInfo("Europe/Brussels")))


# --- editing, one use case for the CLI and the console ------------------------------------------------------


async def test_a_schedule_is_edited_in_place_with_the_same_checks_as_a_new_one(pipeline: Pipeline) -> None:
    p = pipeline
    now = p.services.clock.now()
    made = await p.schedules.add(
        p.org,
        name="cols",
        what=What.COLUMN,
        item_id=None,
        audience=Audience(groups=("linde",)),
        recurrence="every monday at 09:30",
        anchor=date(2026, 3, 2),
        timezone=None,
        locale=None,
        when_blocked=WhenBlocked.SKIP,
        grace_minutes=120,
        now=now,
    )
    edited, first = await edit_schedule(
        p.schedules,
        p.org,
        "cols",
        ScheduleChanges(name="dinsdagcolumn", recurrence="om de dinsdag 9 uur"),
        now,
    )
    assert edited.id == made.id  # the same schedule: its history and rotation stay with it
    assert edited.recurrence.text == "om de dinsdag 9 uur"
    assert first.send_at is not None
    assert first.send_at.astimezone(AMS).strftime("%a %H:%M") == "Tue 09:00"
    with pytest.raises(ScheduleRefusedError) as refused:
        await edit_schedule(
            p.schedules, p.org, "dinsdagcolumn", ScheduleChanges(recurrence="cron 0 9 31 2 *"), now
        )
    assert refused.value.problem is ScheduleProblem.NEVER_FIRES
    with pytest.raises(ScheduleRefusedError) as missing:
        await edit_schedule(p.schedules, p.org, "cols", ScheduleChanges(), now)
    assert missing.value.problem is ScheduleProblem.NOT_FOUND


async def test_vipbot_schedule_edit_refuses_as_the_console_does(cli: Cli) -> None:  # noqa: F811
    code, _out = await cli(
        "schedule", "add", "linde", "cols", "--what", "column", "--every", "every monday at 09:30",
        "--to", "group:linde",
    )  # fmt: skip
    assert code == 0
    code, out = await cli("schedule", "edit", "linde", "cols", "--every", "om de dinsdag 9 uur")
    assert code == 0
    assert "Changed schedule 'cols'" in out
    assert "First post: Tue" in out
    with pytest.raises(VipbotError, match="can never fire"):
        await cli("schedule", "edit", "linde", "cols", "--every", "cron 0 9 31 2 *")
    with pytest.raises(VipbotError, match="--every"):
        await cli("schedule", "edit", "linde", "cols", "--every", "whenever")


async def test_vipbot_schedule_calendar_sets_the_country_and_keeps_it(cli: Cli) -> None:  # noqa: F811
    code, out = await cli("schedule", "calendar", "linde")
    assert "public holidays: NL (from the holidays package)" in out  # Europe/Amsterdam's country by default
    code, out = await cli("schedule", "calendar", "linde", "--country", "be")
    assert "public holidays: BE" in out
    code, out = await cli("schedule", "calendar", "linde", "--quiet", "19:00-08:00")
    assert "public holidays: BE" in out  # changing the quiet hours keeps the country
    with pytest.raises(VipbotError, match="--country"):
        await cli("schedule", "calendar", "linde", "--country", "XX")
    code, out = await cli("schedule", "calendar", "linde", "--country", "none")
    assert "public holidays: none (no country)" in out
    assert code == 0

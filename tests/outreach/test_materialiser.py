"""Schedules turned into outbox rows on the real databases, with an injected clock."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlmodel import col, select

from bot.domain.clock import FixedClock
from bot.domain.outreach import Audience, AudienceError, What
from bot.domain.recurrence import OutreachCalendar, WhenBlocked
from bot.storage.db import session_factory
from bot.storage.tables_outreach import OutreachDeliveryRow, OutreachOccurrenceRow
from tests.outreach.conftest import Pipeline

AMS = "Europe/Amsterdam"


async def add(p: Pipeline, recurrence: str, what: What = What.COLUMN, **kw: object) -> object:
    clock = p.services.clock
    args: dict[str, object] = {
        "name": kw.pop("name", "columns"),
        "what": what,
        "item_id": None,
        "audience": Audience(groups=("linde",), members=True),
        "recurrence": recurrence,
        "anchor": clock.now().date(),
        "timezone": None,
        "locale": None,
        "when_blocked": WhenBlocked.SKIP,
        "grace_minutes": 120,
        "now": clock.now(),
    }
    args.update(kw)
    return await p.schedules.add(p.org, **args)  # type: ignore[arg-type]


async def occurrences(p: Pipeline) -> list[OutreachOccurrenceRow]:
    async with session_factory(p.services.engine)() as s:
        return list(
            (await s.exec(select(OutreachOccurrenceRow).order_by(col(OutreachOccurrenceRow.occurs_at)))).all()
        )


async def deliveries(p: Pipeline) -> list[OutreachDeliveryRow]:
    async with session_factory(p.services.engine)() as s:
        return list((await s.exec(select(OutreachDeliveryRow))).all())


async def run_until(p: Pipeline, until: datetime, step: timedelta = timedelta(minutes=15)) -> None:
    """Let time pass like the service would: materialise, then send what is due, every `step`."""
    clock = p.services.clock
    assert isinstance(clock, FixedClock)
    worker = p.worker()
    while clock.now() < until:
        clock.advance(step)
        for schedule in await p.schedules.list_schedules(p.org):
            await p.materialiser.run_schedule(schedule)
        await worker.drain()


async def test_a_schedule_posts_at_the_right_local_time_across_daylight_saving(pipeline: Pipeline) -> None:
    p = pipeline
    clock = p.services.clock
    assert isinstance(clock, FixedClock)
    clock.set(datetime(2026, 3, 26, 12, 0, tzinfo=UTC))
    await add(p, "daily at 09:30")
    await run_until(p, datetime(2026, 3, 31, 12, 0, tzinfo=UTC))

    fired = [o.occurs_at for o in await occurrences(p)]
    assert fired == [
        datetime(2026, 3, 27, 8, 30, tzinfo=UTC),
        datetime(2026, 3, 28, 8, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 7, 30, tzinfo=UTC),  # summer time from 29 March: still 09:30 in Amsterdam
        datetime(2026, 3, 30, 7, 30, tzinfo=UTC),
        datetime(2026, 3, 31, 7, 30, tzinfo=UTC),
    ]
    rows = await deliveries(p)
    assert len(rows) == 5 * 5  # one channel and four members, each day
    assert all(r.status == "sent" and r.message_id for r in rows)
    for row in rows:
        assert row.sent_at is not None
        local = row.sent_at.astimezone(__import__("zoneinfo").ZoneInfo(AMS))
        assert (local.hour, local.minute) in {(9, 30), (9, 45)}  # within one step of 09:30 local
    assert len(p.slack.sent) == 5 * 4
    assert len(p.teams.sent) == 5


async def test_quiet_hours_weekends_and_holidays_are_skipped(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    p = pipeline
    clock = p.services.clock
    assert isinstance(clock, FixedClock)
    clock.set(datetime(2026, 4, 23, 0, 0, tzinfo=UTC))
    await p.schedules.set_calendar(
        p.org.id,
        OutreachCalendar(
            time(19, 0), time(8, 0), skip_weekends=True, holidays=frozenset({date(2026, 4, 27)})
        ),
    )
    await add(p, "daily at 10:00", name="day")
    await add(p, "daily at 21:00", name="evening")
    caplog.set_level(logging.INFO, logger="scheduler.materialiser")
    await run_until(p, datetime(2026, 4, 29, 0, 0, tzinfo=UTC), step=timedelta(hours=1))

    days = [o.occurs_at.astimezone(__import__("zoneinfo").ZoneInfo(AMS)).date() for o in await occurrences(p)]
    # Thu 23, Fri 24, (Sat, Sun skipped), (Mon 27 King's Day skipped), Tue 28; the 21:00 one never (quiet hours).
    assert days == [date(2026, 4, 23), date(2026, 4, 24), date(2026, 4, 28)]
    reasons = [
        r.__dict__.get("reason") for r in caplog.records if r.getMessage() == "outreach occurrence skipped"
    ]
    assert reasons.count("weekend") == 4
    assert reasons.count("holiday") == 2
    assert reasons.count("quiet hours") == 3


async def test_materialising_twice_or_concurrently_adds_nothing(pipeline: Pipeline) -> None:
    p = pipeline
    clock = p.services.clock
    assert isinstance(clock, FixedClock)
    clock.set(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
    schedule = await add(p, "daily at 09:30")
    clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    stale = dataclasses.replace(schedule)  # type: ignore[type-var]
    await asyncio.gather(*(p.materialiser.run_schedule(stale) for _ in range(4)))
    await p.materialiser.run_schedule(stale)  # a replica that still has the old cursor
    assert len(await occurrences(p)) == 1
    assert len(await deliveries(p)) == 5


async def test_rotation_does_not_repeat_until_the_library_is_exhausted(pipeline: Pipeline) -> None:
    p = pipeline
    clock = p.services.clock
    assert isinstance(clock, FixedClock)
    clock.set(datetime(2026, 1, 1, 0, 0, tzinfo=UTC))
    library = [r.id for r in p.services.content.catalog.reminders]
    assert len(library) >= 3
    await add(p, "daily at 09:00", What.REMINDER, audience=Audience(groups=("linde",)))
    await run_until(
        p, datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=len(library) + 2), step=timedelta(hours=1)
    )
    picked = [o.item_id for o in await occurrences(p)]
    assert len(picked) >= len(library) + 1
    assert sorted(picked[: len(library)]) == sorted(library)  # every reminder once before any repeats
    assert picked[len(library)] in library
    assert [m.message.payload["ref"] for m in p.slack.sent] == picked[: len(p.slack.sent)]


async def test_missed_occurrences_are_sent_once_within_grace_and_skipped_after(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    p = pipeline
    clock = p.services.clock
    assert isinstance(clock, FixedClock)
    clock.set(datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    await add(p, "daily at 09:30", grace_minutes=60)
    caplog.set_level(logging.INFO, logger="scheduler.materialiser")
    # The service was down from Monday morning until Thursday 09:00 UTC (10:00 local): 4 occurrences missed.
    clock.set(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    for _ in range(2):  # the second pass (a replica, or the next tick) finds nothing new
        for schedule in await p.schedules.list_schedules(p.org):
            await p.materialiser.run_schedule(schedule)
    assert [o.occurs_at for o in await occurrences(p)] == [datetime(2026, 3, 5, 8, 30, tzinfo=UTC)]
    missed = [r for r in caplog.records if "missed beyond the grace window" in r.getMessage()]
    assert len(missed) == 3


async def test_publish_now_goes_through_the_same_outbox(pipeline: Pipeline) -> None:
    p = pipeline
    column = p.services.content.catalog.columns[0]
    done = await p.materialiser.publish_now(p.org, What.COLUMN, column.id, Audience(groups=("zorg",)), "en")
    assert done.deliveries == 1
    sent = await p.worker().drain()
    assert sent == 1
    assert p.teams.sent[0].message.payload == {
        "kind": "column",
        "ref": column.id,
        "locale": "en",
        "text": column.title.en,
    }
    with pytest.raises(AudienceError, match="no channel or member"):
        await p.materialiser.publish_now(p.org, What.COLUMN, column.id, Audience(channels=()), None)
    with pytest.raises(AudienceError, match="no group 'nope'"):
        await p.materialiser.publish_now(p.org, What.COLUMN, column.id, Audience(groups=("nope",)), None)

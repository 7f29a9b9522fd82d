"""The whistleblowing clock runs from the conversation's first message, and expiry never erases a conversation
whose legal deadline is still open (all on the injected clock, on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.app import Services
from bot.domain.clock import FixedClock
from bot.domain.conversations import (
    Author,
    Classification,
    ConversationNotFoundError,
    Mode,
    today_in,
)
from bot.domain.tenancy import CounsellorRole
from tests.inbox.support import counsellor_with_key

WHISTLEBLOWING = Classification(category="integrity", follow_up="whistleblowing-report")


async def test_the_clock_starts_at_the_first_message_not_at_classification(
    services: Services, clock: FixedClock
) -> None:
    _person, channel, org = await counsellor_with_key(services, "de-linde", "mira@vp.test")
    started = today_in(clock)
    conversation, _ = await channel.service.start(org.id, 90, Mode.ANONYMOUS, "Er wordt gefraudeerd.")
    clock.advance(timedelta(days=5))
    await channel.service.write(org.id, 90, conversation, Author.COUNSELLOR, "Vertel meer.", 1)
    clock.advance(timedelta(days=15))
    await channel.store.classify(org.id, conversation, WHISTLEBLOWING, today_in(clock))

    clock_of = (await channel.store.get(org.id, conversation)).whistleblowing
    assert clock_of is not None
    assert clock_of.reported_on == started == date(2026, 3, 2)
    assert clock_of.acknowledge_by == date(2026, 3, 9)  # already overdue when it was classified
    assert clock_of.feedback_by == date(2026, 6, 2)
    assert [(what, overdue) for what, _by, overdue in clock_of.due(today_in(clock))] == [
        ("acknowledge", True),
        ("feedback", False),
    ]
    # Classifying again (another category) does not move the clock.
    await channel.store.classify(
        org.id, conversation, Classification("fraud", None, "whistleblowing-report"), today_in(clock)
    )
    again = (await channel.store.get(org.id, conversation)).whistleblowing
    assert again is not None
    assert again.reported_on == started


async def test_expiry_keeps_a_conversation_while_a_legal_deadline_is_open(
    services: Services, clock: FixedClock
) -> None:
    _person, channel, org = await counsellor_with_key(services, "de-linde", "mira@vp.test")
    reported, _ = await channel.service.start(org.id, 90, Mode.ANONYMOUS, "Een melding van fraude.")
    ordinary, _ = await channel.service.start(org.id, 90, Mode.ANONYMOUS, "Iets anders.")
    await channel.store.classify(org.id, reported, WHISTLEBLOWING, today_in(clock))

    # Day 91: past the 90-day expiry of both; the feedback deadline (3 months) is still ahead and open.
    clock.advance(timedelta(days=91))
    assert await channel.expire() == 1
    with pytest.raises(ConversationNotFoundError):
        await channel.store.get(org.id, ordinary)
    assert (await channel.store.get(org.id, reported)).id == reported

    # Past the feedback deadline, still not done: overdue, and still kept.
    clock.advance(timedelta(days=60))
    assert await channel.expire() == 0
    await channel.store.record_whistleblowing(
        org.id, reported, acknowledged_on=today_in(clock), feedback_on=None, retention_days=90
    )
    assert await channel.expire() == 0  # the feedback is still open
    await channel.store.record_whistleblowing(
        org.id, reported, acknowledged_on=None, feedback_on=today_in(clock), retention_days=90
    )
    # Both duties done: the ordinary retention applies again, counted from the last duty, not erased at once.
    assert await channel.expire() == 0
    summary = await channel.store.get(org.id, reported)
    assert summary.expires_on == today_in(clock) + timedelta(days=90)
    clock.advance(timedelta(days=90))
    assert await channel.expire() == 1
    with pytest.raises(ConversationNotFoundError):
        await channel.store.get(org.id, reported)


async def test_a_short_retention_does_not_cut_an_open_deadline(services: Services, clock: FixedClock) -> None:
    _person, channel, _org = await counsellor_with_key(services, "de-linde", "mira@vp.test")
    short = await services.organisations.add_organisation("Kort", "kort", "Europe/Amsterdam", "nl", 14)
    mira = (await channel.store.counsellors(_org.id))[0].id
    await channel.store.link_counsellor(short.id, mira, CounsellorRole.PRIMARY)
    reported, _ = await channel.service.start(short.id, 14, Mode.ANONYMOUS, "Een melding.")
    await channel.store.classify(short.id, reported, WHISTLEBLOWING, today_in(clock))
    clock.advance(timedelta(days=30))
    assert await channel.expire() == 0
    assert (await channel.store.get(short.id, reported)).whistleblowing is not None

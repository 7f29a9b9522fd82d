"""Storage of answers as DESIGN §5 says: no identifier and no time on answers, one answer per person, and after
close no participation row and no key — on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Uuid, bindparam, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.__main__ import build_parser
from bot.catalog import ContentLibrary
from bot.cli.context import CliContext
from bot.domain.clock import FixedClock
from bot.domain.pulses import (
    AnswerAction,
    AnswerOutcome,
    ClickOrigin,
    Participant,
    PulseStatus,
    RoundStillOpenError,
)
from bot.domain.tenancy import Platform
from bot.settings import Settings
from bot.storage.pulses import BatchStats, SqlPulseStore, master_key_from
from bot.storage.tables_pulses import COUNTER_BIAS
from tests.conftest import TEST_SECRET_KEY
from tests.pulses.conftest import PulseWorld, make_world

CANARY = "U0CANARY7Q3X"


def channel_of(team_slug: str) -> ClickOrigin:
    return ClickOrigin(Platform.SLACK, "T0WORKSPACE", f"C-{team_slug}")


def person(user: str) -> Participant:
    return Participant(Platform.SLACK, "T0WORKSPACE", user)


async def table_dump(engine: AsyncEngine, table: str) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(f"SELECT * FROM {table}"))).all()]  # noqa: S608


async def counted(engine: AsyncEngine) -> Counter[tuple[str, str]]:
    """The answers open rounds hold, per question and value: their counters."""
    found: Counter[tuple[str, str]] = Counter()
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT question_id, value, n FROM pulse_counter"))
        for question, value, n in rows:
            if int(n) > COUNTER_BIAS:
                found[(str(question), str(value))] += int(n) - COUNTER_BIAS
    return found


async def answer_count(engine: AsyncEngine) -> int:
    return sum((await counted(engine)).values())


async def test_answers_hold_no_identifier_and_no_time(world: PulseWorld, engine: AsyncEngine) -> None:
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    team = world.tree.by_slug("team-noord")
    assert team is not None
    where = channel_of(team.slug)
    action = AnswerAction(pulse.id, "veilig-om-te-zeggen", "4")
    assert await world.service.answer(world.org.id, action, person(CANARY), where) is AnswerOutcome.RECORDED

    async with engine.connect() as conn:
        columns = await conn.run_sync(lambda sync: inspect(sync).get_columns("pulse_counter"))
        tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    assert "pulse_answer" not in tables  # no row per answer: counters, created when the round opened
    assert {c["name"] for c in columns} == {
        "pulse_id",
        "organisation_id",
        "group_id",
        "question_id",
        "value",
        "n",
    }
    assert not any("TIME" in str(c["type"]).upper() or "DATE" in str(c["type"]).upper() for c in columns)
    # one counter per group of the audience (organisation, department, two teams), question and value
    assert len(await table_dump(engine, "pulse_counter")) == 4 * (3 * 5 + 3)
    assert await counted(engine) == Counter({("veilig-om-te-zeggen", "4"): 1})
    for table in ("pulse_counter", "pulse_participation", "pulse_key", "pulse"):
        assert CANARY not in repr(await table_dump(engine, table))
    participation = await table_dump(engine, "pulse_participation")
    assert len(participation) == 1
    assert CANARY.encode() not in bytes(participation[0][2])  # HMAC, not the id
    if engine.url.get_backend_name() == "sqlite":
        database = Path(str(engine.url.database))
        for path in (database, database.with_name(database.name + "-wal")):
            if path.exists():
                assert CANARY.encode() not in path.read_bytes()


async def test_a_second_answer_by_the_same_person_is_refused(world: PulseWorld, engine: AsyncEngine) -> None:
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    team = world.tree.by_slug("team-zuid")
    assert team is not None
    where = channel_of(team.slug)
    first = AnswerAction(pulse.id, "veilig-om-te-zeggen", "5")
    assert await world.service.answer(world.org.id, first, person("U1"), where) is AnswerOutcome.RECORDED
    again = AnswerAction(pulse.id, "veilig-om-te-zeggen", "1")
    assert (
        await world.service.answer(world.org.id, again, person("U1"), where) is AnswerOutcome.ALREADY_ANSWERED
    )
    # Another question by the same person, and the same question by someone else, are fine.
    other_question = AnswerAction(pulse.id, "sfeer-deze-week", "goed")
    assert (
        await world.service.answer(world.org.id, other_question, person("U1"), where)
        is AnswerOutcome.RECORDED
    )
    assert await world.service.answer(world.org.id, again, person("U2"), where) is AnswerOutcome.RECORDED
    # The same user id in another workspace is another person.
    other_workspace = Participant(Platform.TEAMS, "tenant-2", "U1")
    assert await world.service.answer(world.org.id, again, other_workspace, where) is AnswerOutcome.RECORDED
    values = sorted(value for (_, value), n in (await counted(engine)).items() for _ in range(n))
    assert values == ["1", "1", "5", "goed"]


async def test_invalid_answers_are_refused(world: PulseWorld) -> None:
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    team = world.tree.by_slug("team-zuid")
    assert team is not None
    where = channel_of(team.slug)
    for action in (
        AnswerAction(pulse.id, "veilig-om-te-zeggen", "6"),
        AnswerAction(pulse.id, "sfeer-deze-week", "3"),
        AnswerAction(pulse.id, "bestaat-niet", "3"),
    ):
        assert await world.service.answer(world.org.id, action, person("U1"), where) is AnswerOutcome.INVALID
    encoded = AnswerAction(pulse.id, "sfeer-deze-week", "goed").encode()
    assert AnswerAction.decode(encoded) == AnswerAction(pulse.id, "sfeer-deze-week", "goed")
    assert AnswerAction.decode("vp-pulse|nope") is None


async def test_closing_destroys_the_key_and_participation(
    world: PulseWorld, engine: AsyncEngine, clock: FixedClock
) -> None:
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    team = world.tree.by_slug("team-noord")
    assert team is not None
    where = channel_of(team.slug)
    for i in range(7):
        action = AnswerAction(pulse.id, "werkdruk-haalbaar", str(1 + i % 5))
        assert (
            await world.service.answer(world.org.id, action, person(f"U{i}"), where) is AnswerOutcome.RECORDED
        )
    hashes = [bytes(r[2]) for r in await table_dump(engine, "pulse_participation")]
    sealed_key = bytes((await table_dump(engine, "pulse_key"))[0][2])
    assert len(hashes) == 7

    assert await world.service.close_due() == []  # not due yet
    clock.advance(timedelta(days=3))
    late = AnswerAction(pulse.id, "werkdruk-haalbaar", "3")
    assert await world.service.answer(world.org.id, late, person("U99"), where) is AnswerOutcome.CLOSED
    closed = await world.service.close_due()
    assert [p.id for p in closed] == [pulse.id]
    assert closed[0].status is PulseStatus.CLOSED

    assert await table_dump(engine, "pulse_participation") == []
    assert await table_dump(engine, "pulse_key") == []
    assert await table_dump(engine, "pulse_counter") == []  # nothing written click by click stays
    tallies = await world.store.cell_counts(world.org.id, [pulse.id])  # counted once, at close
    assert sorted((c.value, c.answers) for c in tallies) == [("1", 2), ("2", 2), ("3", 1), ("4", 1), ("5", 1)]
    assert await world.service.close_due() == []  # closing twice is a no-op
    if engine.url.get_backend_name() == "sqlite":
        database = Path(str(engine.url.database))
        await engine.dispose()  # let go of every connection, then look at what is on disk
        stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        assert all(h not in stored for h in hashes)
        assert sealed_key not in stored


async def test_a_click_racing_the_close_is_refused_whole(world: PulseWorld, engine: AsyncEngine) -> None:
    """The participation row references the key: once the key is gone no answer can be added any more."""
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    team = world.tree.by_slug("team-noord")
    assert team is not None
    # The click has read the key and hashed the person; then the round closes; then its transaction runs.
    hashed = b"\x01" * 32
    await world.store.close_pulse(world.org.id, pulse.id, pulse.opened_at)
    outcome = await world.store.insert_answer(
        world.org.id, pulse.id, "werkdruk-haalbaar", team.id, "3", hashed
    )
    assert outcome is AnswerOutcome.CLOSED
    assert await world.store.record_answer(
        world.org.id, pulse.id, "werkdruk-haalbaar", team.id, "3", b"x"
    ) is (AnswerOutcome.CLOSED)
    assert await answer_count(engine) == 0


async def test_concurrent_clicks_lose_nothing_and_count_nothing_twice(
    world: PulseWorld, engine: AsyncEngine
) -> None:
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    team = world.tree.by_slug("team-zuid")
    assert team is not None
    where = channel_of(team.slug)
    action = AnswerAction(pulse.id, "respectvol-behandeld", "4")
    # 150 people, each clicking twice at once.
    outcomes = await asyncio.gather(
        *(world.service.answer(world.org.id, action, person(f"U{i % 150}"), where) for i in range(300))
    )
    assert outcomes.count(AnswerOutcome.RECORDED) == 150
    assert outcomes.count(AnswerOutcome.ALREADY_ANSWERED) == 150
    assert await answer_count(engine) == 150
    assert len(await table_dump(engine, "pulse_participation")) == 150


async def test_clicks_arriving_together_share_a_transaction_and_each_gets_its_own_outcome(
    world: PulseWorld, engine: AsyncEngine
) -> None:
    """Group commit: a burst is one transaction; a second click on the same question, earlier in the same batch
    or in an earlier one, is refused and its value is not counted."""
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    team = world.tree.by_slug("team-noord")
    assert team is not None
    workload, respect = "werkdruk-haalbaar", "respectvol-behandeld"

    async def burst(store: SqlPulseStore, clicks: Sequence[tuple[str, str, str]]) -> list[AnswerOutcome]:
        return list(
            await asyncio.gather(
                *(
                    store.record_answer(world.org.id, pulse.id, q, team.id, v, person(u).identity())
                    for u, q, v in clicks
                )
            )
        )

    # 40 people answer; 10 of them click the same question again (another value) in the same burst; 5 answer a
    # second question, which is fine.
    first = (
        [(f"U{i}", workload, "4") for i in range(40)]
        + [(f"U{i}", workload, "1") for i in range(10)]
        + [(f"U{i}", respect, "5") for i in range(5)]
    )
    assert await burst(world.store, first) == (
        [AnswerOutcome.RECORDED] * 40 + [AnswerOutcome.ALREADY_ANSWERED] * 10 + [AnswerOutcome.RECORDED] * 5
    )
    assert world.store.stats == BatchStats(batches=1, clicks=55, fallbacks=0)
    # The next burst: 10 of these people answered in the first one, and U45 clicks twice.
    second = [(f"U{i}", workload, "2") for i in range(30, 50)] + [("U45", workload, "3")]
    assert await burst(world.store, second) == (
        [AnswerOutcome.ALREADY_ANSWERED] * 10
        + [AnswerOutcome.RECORDED] * 10
        + [AnswerOutcome.ALREADY_ANSWERED]
    )
    assert world.store.stats == BatchStats(batches=2, clicks=76, fallbacks=0)
    # Another store on the same database (another replica) writes at most `batch_limit` clicks per transaction.
    other = SqlPulseStore(engine, master_key_from(TEST_SECRET_KEY), batch_limit=8)
    third = [(f"V{i}", workload, "5") for i in range(20)] + [("U0", workload, "5")]
    assert await burst(other, third) == [AnswerOutcome.RECORDED] * 20 + [AnswerOutcome.ALREADY_ANSWERED]
    assert other.stats == BatchStats(batches=3, clicks=21, fallbacks=0)

    answers = await counted(engine)
    assert answers == {(workload, "4"): 40, (workload, "2"): 10, (workload, "5"): 20, (respect, "5"): 5}
    assert len(await table_dump(engine, "pulse_participation")) == 75


async def test_a_burst_through_the_service_counts_everyone_once(
    world: PulseWorld, engine: AsyncEngine
) -> None:
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    noord, zuid = world.tree.by_slug("team-noord"), world.tree.by_slug("team-zuid")
    assert noord is not None
    assert zuid is not None
    questions = ("werkdruk-haalbaar", "respectvol-behandeld", "veilig-om-te-zeggen")
    # 120 people, three questions each; every third person clicks every question twice (once in the same burst,
    # and once more in the next one).
    clicks = [
        (f"U{i}", q, channel_of((noord if i % 2 else zuid).slug))
        for repeat in range(2)
        for i in range(120)
        for q in questions
        if repeat == 0 or i % 3 == 0
    ]

    async def burst(batch: Sequence[tuple[str, str, ClickOrigin]]) -> list[AnswerOutcome]:
        return list(
            await asyncio.gather(
                *(
                    world.service.answer(world.org.id, AnswerAction(pulse.id, q, "4"), person(u), where)
                    for u, q, where in batch
                )
            )
        )

    outcomes = await burst(clicks)
    again = [(u, q, where) for u, q, where in clicks if int(u[1:]) % 3 == 0][:60]
    outcomes += await burst(again)
    recorded = Counter(
        (u, q)
        for (u, q, _), o in zip([*clicks, *again], outcomes, strict=True)
        if o is AnswerOutcome.RECORDED
    )
    assert set(outcomes) == {AnswerOutcome.RECORDED, AnswerOutcome.ALREADY_ANSWERED}
    assert recorded == {(f"U{i}", q): 1 for i in range(120) for q in questions}
    assert outcomes.count(AnswerOutcome.ALREADY_ANSWERED) == len(clicks) + len(again) - 360
    assert await answer_count(engine) == 360
    assert len(await table_dump(engine, "pulse_participation")) == 360
    stats = world.store.stats
    assert stats.fallbacks == 0
    assert stats.clicks == len(clicks) + len(again)
    assert stats.batches < stats.clicks / 10  # written together, not one transaction per click


async def test_a_participation_written_by_another_replica_refuses_only_that_click(
    world: PulseWorld, engine: AsyncEngine
) -> None:
    """Another replica has just inserted one person's participation (not yet committed when this batch starts):
    that click is ALREADY_ANSWERED, the rest of the batch is recorded, and the batch is not aborted."""
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    team = world.tree.by_slug("team-zuid")
    assert team is not None
    question = "veilig-om-te-zeggen"
    hashed = await world.store._participant_hash(world.org.id, pulse.id, question, person("U7").identity())
    assert hashed is not None
    async with engine.connect() as replica:
        transaction = await replica.begin()
        await replica.execute(
            text(
                "INSERT INTO pulse_participation (pulse_id, organisation_id, participant) VALUES (:p, :o, :h)"
            ).bindparams(bindparam("p", type_=Uuid()), bindparam("o", type_=Uuid())),
            {"p": pulse.id, "o": world.org.id, "h": hashed},
        )
        clicks = asyncio.gather(
            *(
                world.store.record_answer(
                    world.org.id, pulse.id, question, team.id, "3", person(f"U{i}").identity()
                )
                for i in range(12)
            )
        )
        # The batch waits for the replica's row (PostgreSQL) or for its write lock (SQLite).
        await asyncio.sleep(0.3)
        assert not clicks.done()
        await transaction.commit()
        outcomes = await clicks
    refused = [AnswerOutcome.ALREADY_ANSWERED]
    assert outcomes == [AnswerOutcome.RECORDED] * 7 + refused + [AnswerOutcome.RECORDED] * 4
    assert world.store.stats == BatchStats(batches=1, clicks=12, fallbacks=0)
    # 11 answer rows: this test leaves out the replica's own answer row.
    assert await answer_count(engine) == 11
    assert len(await table_dump(engine, "pulse_participation")) == 12


async def test_clicks_racing_the_close_are_counted_or_refused_whole(
    world: PulseWorld, engine: AsyncEngine
) -> None:
    """Bursts before, during and after the close: every click is RECORDED or CLOSED, every RECORDED one is in
    the tally, and nothing of a refused one stays behind."""
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    team = world.tree.by_slug("team-noord")
    assert team is not None

    def click(user: str) -> asyncio.Task[AnswerOutcome]:
        return asyncio.ensure_future(
            world.store.record_answer(
                world.org.id, pulse.id, "werkdruk-haalbaar", team.id, "2", person(user).identity()
            )
        )

    before = await asyncio.gather(*(click(f"A{i}") for i in range(50)))
    assert before == [AnswerOutcome.RECORDED] * 50
    # Waves of clicks a little apart, the close starting in the middle of them (while a batch is being written).
    during: list[asyncio.Task[AnswerOutcome]] = []
    closing: asyncio.Future[bool] | None = None
    for wave in range(10):
        during += [click(f"B{wave}-{i}") for i in range(20)]
        await asyncio.sleep(0.002)
        if wave == 4:
            closing = asyncio.ensure_future(world.store.close_pulse(world.org.id, pulse.id, pulse.opened_at))
    assert closing is not None
    assert await closing is True
    outcomes = [*before, *await asyncio.gather(*during)]
    after = await asyncio.gather(*(click(f"D{i}") for i in range(20)))
    assert after == [AnswerOutcome.CLOSED] * 20
    assert set(outcomes) <= {AnswerOutcome.RECORDED, AnswerOutcome.CLOSED}
    recorded = outcomes.count(AnswerOutcome.RECORDED)
    assert await answer_count(engine) == 0  # the counters went into the tally
    tally = await world.store.cell_counts(world.org.id, [pulse.id])
    assert sum(c.answers for c in tally) == recorded
    assert await table_dump(engine, "pulse_participation") == []
    assert await table_dump(engine, "pulse_key") == []
    assert world.store.stats.fallbacks == 0


class FailingBatchStore(SqlPulseStore):
    """A store whose next batch transaction fails: before it writes anything, or after its commit went through
    (the answer to COMMIT lost on the way)."""

    def __init__(self, engine: AsyncEngine, fail: str) -> None:
        super().__init__(engine, master_key_from(TEST_SECRET_KEY))
        self.fail = fail

    async def _write_batch(self, batch: Sequence[Any]) -> list[AnswerOutcome]:
        fail, self.fail = self.fail, ""
        if fail == "before":
            raise ConnectionResetError("the database connection was lost")
        outcomes = await super()._write_batch(batch)
        if fail == "after":
            raise ConnectionResetError("the database connection was lost")
        return outcomes


@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_failed_batch_is_written_click_by_click(
    world: PulseWorld, engine: AsyncEngine, when: str
) -> None:
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    team = world.tree.by_slug("team-zuid")
    assert team is not None
    store = FailingBatchStore(engine, when)
    users = [f"U{i}" for i in range(30)] + [f"U{i}" for i in range(10)]
    outcomes = await asyncio.gather(
        *(
            store.record_answer(
                world.org.id, pulse.id, "sfeer-deze-week", team.id, "goed", person(u).identity()
            )
            for u in users
        )
    )
    assert store.stats == BatchStats(batches=0, clicks=0, fallbacks=1)
    if when == "before":  # nothing was written: click by click, the outcomes are exact
        assert outcomes == [AnswerOutcome.RECORDED] * 30 + [AnswerOutcome.ALREADY_ANSWERED] * 10
    else:  # it was all written: nobody is counted twice (a first click is told it counted already)
        assert outcomes == [AnswerOutcome.ALREADY_ANSWERED] * 40
    assert await answer_count(engine) == 30
    assert len(await table_dump(engine, "pulse_participation")) == 30
    # The next burst goes in one transaction again.
    more = await asyncio.gather(
        *(
            store.record_answer(
                world.org.id, pulse.id, "sfeer-deze-week", team.id, "goed", person(u).identity()
            )
            for u in ("U0", "W1", "W2")
        )
    )
    assert more == [AnswerOutcome.ALREADY_ANSWERED, AnswerOutcome.RECORDED, AnswerOutcome.RECORDED]
    assert store.stats == BatchStats(batches=1, clicks=3, fallbacks=1)


async def test_one_organisation_cannot_touch_another_s_pulse(
    world: PulseWorld, engine: AsyncEngine, content: ContentLibrary, clock: FixedClock
) -> None:
    other = await make_world(engine, content, clock, "eik", {"Team Een": 5})
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    team = world.tree.by_slug("team-noord")
    assert team is not None
    where = channel_of(team.slug)
    action = AnswerAction(pulse.id, "werkdruk-haalbaar", "3")
    assert await other.service.answer(other.org.id, action, person("U1"), where) is AnswerOutcome.INVALID
    assert await other.store.rounds(other.org.id, world.pulse_set.id) == []
    assert await other.store.cell_counts(other.org.id, [pulse.id]) == []
    assert await other.store.close_pulse(other.org.id, pulse.id, clock.now()) is False
    assert len(await table_dump(engine, "pulse_key")) == 1


async def test_an_answer_counts_for_the_channel_s_group_or_the_audience_in_a_dm(
    world: PulseWorld, engine: AsyncEngine
) -> None:
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    action = AnswerAction(pulse.id, "werkdruk-haalbaar", "4")
    assert await world.service.answer(world.org.id, action, person("U1"), channel_of("team-noord")) is (
        AnswerOutcome.RECORDED
    )
    dm = ClickOrigin(Platform.SLACK, "T0WORKSPACE")
    assert await world.service.answer(world.org.id, action, person("U2"), dm) is AnswerOutcome.RECORDED
    unbound = ClickOrigin(Platform.SLACK, "T0WORKSPACE", "C-elsewhere")
    assert await world.service.answer(world.org.id, action, person("U3"), unbound) is AnswerOutcome.RECORDED
    assert await world.store.cell_counts(world.org.id, [pulse.id]) == []  # nothing is read while open
    await world.service.close_now(world.org.id, pulse.id)
    counts = await world.store.cell_counts(world.org.id, [pulse.id])
    by_group = {c.group_id: c.answers for c in counts}
    noord = world.tree.by_slug("team-noord")
    assert noord is not None
    assert by_group == {noord.id: 1, world.tree.root.id: 2}


async def test_one_occurrence_opens_one_round_however_often_it_is_built(world: PulseWorld) -> None:
    occurrence = uuid.uuid4()
    rounds = await asyncio.gather(
        *(
            world.service.open_round(world.org.id, world.pulse_set.id, world.tree, occurrence_id=occurrence)
            for _ in range(5)
        )
    )
    assert len({r.id for r in rounds}) == 1
    assert len(await world.store.rounds(world.org.id, world.pulse_set.id)) == 1


async def test_a_second_round_for_the_same_people_is_refused_while_one_is_open(
    world: PulseWorld, content: ContentLibrary, clock: FixedClock
) -> None:
    """By hand, one round at a time per pulse set and group scope: the same group, above or below it."""
    noord, zuid = world.tree.by_slug("team-noord"), world.tree.by_slug("team-zuid")
    department = world.tree.by_slug("zorg-linde")
    assert noord is not None
    assert zuid is not None
    assert department is not None
    first = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree, noord.id, 5)
    for audience in (noord.id, department.id, world.tree.root.id):
        with pytest.raises(RoundStillOpenError) as refused:
            await world.service.open_round(world.org.id, world.pulse_set.id, world.tree, audience, 1)
        assert refused.value.pulse.id == first.id
    # Other people, or another pulse set, may have their round at the same time.
    other_team = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree, zuid.id)
    safety = content.catalog.pulse_set("psychologische-veiligheid")
    assert safety is not None
    await world.service.open_round(world.org.id, safety.id, world.tree)
    # A schedule's occurrence is not refused (its cadence was chosen when it was planned).
    scheduled = await world.service.open_round(
        world.org.id, world.pulse_set.id, world.tree, occurrence_id=uuid.uuid4()
    )
    assert scheduled.status is PulseStatus.OPEN
    # Once the windows have passed (even before the close runs) a new round may open.
    clock.set(max(first.closes_at, other_team.closes_at, scheduled.closes_at))
    again = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    assert again.status is PulseStatus.OPEN
    rounds = await world.store.rounds(world.org.id, world.pulse_set.id)
    assert len(rounds) == 4


async def test_vipbot_pulse_open_refuses_in_the_organisation_s_language(
    world: PulseWorld, settings: Settings
) -> None:
    env = {
        "VIPBOT_DATABASE_URL": str(settings.database_url),
        "VIPBOT_SECRET_KEY": TEST_SECRET_KEY,
        "VIPBOT_DATA_DIR": str(settings.data_dir),
    }

    async def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        args = build_parser().parse_args(list(argv))
        code = await args.handler(args, CliContext(environ=env, out=out, err=err, dotenv=None))
        return code, out.getvalue(), err.getvalue()

    code, out, _ = await run(
        "pulse", "open", "linde", "wekelijkse-check-in", "--group", "zorg-linde", "--days", "2"
    )
    assert code == 0
    assert out.startswith("Opened round ")
    code, out, err = await run("pulse", "open", "linde", "wekelijkse-check-in", "--group", "team-noord")
    assert code == 1
    assert out == ""
    assert err.startswith(
        "vipbot: Er staat al een ronde van 'Wekelijkse check-in' open voor Zorg linde, tot "
    )
    assert "Er is één ronde tegelijk voor dezelfde mensen" in err
    assert len(await world.store.rounds(world.org.id, world.pulse_set.id)) == 1

"""`vipbot serve` as real processes sending through the real Slack gateway to the Slack Web API simulator:
SIGKILL in the middle of 1,000 deliveries, and two services on one PostgreSQL database — with rows queued before
they start, and with a schedule that fires in both while they run."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.catalog import ContentLibrary
from bot.domain.clock import SystemClock
from bot.domain.delivery import Target, TargetKind
from bot.domain.outreach import Audience, What
from bot.domain.recurrence import OutreachCalendar
from bot.domain.tenancy import Organisation, Platform
from bot.storage.db import create_engine, session_factory
from bot.storage.organisations import SqlOrganisationRepository
from bot.storage.outbox import SqlOutbox
from bot.storage.schedules import SqlMemberDirectory, SqlScheduleRepository
from bot.storage.tables_outreach import OutreachDeliveryRow, OutreachOccurrenceRow
from scheduler.materialiser import Materialiser
from tests.conftest import TEST_SECRET_KEY
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator
from tests.support.clocked import FileOffsetClock, move_clock
from tests.support.databases import clone_postgres, drop_database
from tests.support.net import free_port, wait_for_http
from tests.support.process import start_vipbot, stop, vipbot_env
from tests.support.waiting import eventually

# Each test runs one or two `vipbot serve` processes through 400–1,000 sends to the simulator, which lives in
# the test's own event loop: two such tests at once on a small machine starve each other past their deadlines.
# The "timing" group runs them in one worker, one after another (the rest of the suite runs beside them).
pytestmark = pytest.mark.xdist_group("timing")

DELIVERIES = 1000
IN_FLIGHT = 16


async def add_organisation(
    database_url: str, simulator: SlackApiSimulator, people: int = DELIVERIES
) -> tuple[SqlOrganisationRepository, Organisation, SqlOutbox, AsyncEngine]:
    """An organisation with `people` Slack members and no quiet hours, weekends or holidays in the way (on a
    migrated database)."""
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    orgs = SqlOrganisationRepository(sessions)
    org = await orgs.add_organisation("Zorggroep De Linde", "linde", "Europe/Amsterdam", "nl", 90)
    users = [f"U{i:05d}" for i in range(people)]
    for user in users:
        simulator.add_user(user)
    outbox = SqlOutbox(engine)
    await outbox.register_members(
        org.id, [Target(Platform.SLACK, DEFAULT_TEAM, TargetKind.PERSON, u) for u in users]
    )
    await SqlScheduleRepository(sessions).set_calendar(
        org.id, OutreachCalendar(time(0, 0), time(0, 0), skip_weekends=False)
    )
    return orgs, org, outbox, engine


async def queue_fan_out(database_url: str, content: ContentLibrary, simulator: SlackApiSimulator) -> None:
    """An organisation with DELIVERIES Slack members and one column published to all of them."""
    orgs, org, outbox, engine = await add_organisation(database_url, simulator)
    try:
        sessions = session_factory(engine)
        materialiser = Materialiser(
            SqlScheduleRepository(sessions),
            outbox,
            orgs,
            SqlMemberDirectory(sessions),
            content,
            SystemClock(),
        )
        column = content.catalog.columns[0].id
        done = await materialiser.publish_now(org, What.COLUMN, column, Audience(members=True), None)
        assert done.deliveries == DELIVERIES
    finally:
        await engine.dispose()


async def counts_in(engine: AsyncEngine) -> dict[str, int]:
    async with session_factory(engine)() as session:
        rows = await session.exec(
            select(OutreachDeliveryRow.status, func.count()).group_by(col(OutreachDeliveryRow.status))
        )
        return {str(s): int(n) for s, n in rows}


async def outbox_counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        return await counts_in(engine)
    finally:
        await engine.dispose()


# While the services send, the test looks at the outbox through one engine every POLL seconds: a new engine per
# look, fifty times a second, took the CPU that the simulator (in this same process) needs to answer them.
POLL = 0.1


@asynccontextmanager
async def watching(database_url: str) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """`sent()`: how many deliveries the outbox holds as sent, read through one engine kept open meanwhile."""
    engine = create_engine(database_url)

    async def sent() -> int:
        return (await counts_in(engine)).get("sent", 0)

    try:
        yield sent
    finally:
        await engine.dispose()


async def senders(database_url: str) -> Counter[str]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.exec(select(OutreachDeliveryRow.claimed_by))
            return Counter(str(r) for r in rows)
    finally:
        await engine.dispose()


@pytest.fixture
async def shared_database(postgres_server: str, postgres_template: str) -> AsyncIterator[str]:
    """A migrated PostgreSQL database (a clone of the session's template) for several services at once."""
    url, name = await clone_postgres(postgres_server, postgres_template)
    yield url
    await drop_database(postgres_server, name)


LOGS: list[IO[bytes]] = []


@pytest.fixture(autouse=True)
def _close_logs() -> Iterator[None]:
    yield
    while LOGS:
        LOGS.pop().close()


def serve(
    tmp_path: Path,
    name: str,
    database_url: str,
    simulator: SlackApiSimulator,
    log_level: str = "WARNING",
    port: int | None = None,
    clock: Path | None = None,
) -> subprocess.Popen[bytes]:
    env = vipbot_env(
        tmp_path / name,
        port or free_port(),
        VIPBOT_DATABASE_URL=database_url,
        VIPBOT_SECRET_KEY=TEST_SECRET_KEY,
        VIPBOT_TEAMS="false",
        VIPBOT_LOG_LEVEL=log_level,
        VIPBOT_OUTREACH_RATE="150",
        VIPBOT_OUTREACH_IN_FLIGHT=str(IN_FLIGHT),
        VIPBOT_OUTREACH_LEASE="5",
        VIPBOT_OUTREACH_SYNC="2",
        SLACK_BOT_TOKEN=DEFAULT_TOKEN,
        SLACK_SIGNING_SECRET="8f742231b10e8888abcd99yyyzzz85a5",
        SLACK_API_URL=simulator.api_url,
    )
    log = (tmp_path / f"{name}.log").open("ab")
    LOGS.append(log)
    return start_vipbot(["serve"], env, tmp_path, log, clock=clock)


def posted(simulator: SlackApiSimulator) -> Counter[str]:
    """Messages per DM as the simulator holds them."""
    return Counter({channel: len(messages) for channel, messages in simulator.messages.items()})


async def test_sigkill_in_the_middle_of_a_fan_out_loses_nothing(
    tmp_path: Path,
    database_url: str,
    engine: AsyncEngine,  # a migrated database
    content: ContentLibrary,
    slack_api: SlackApiSimulator,
) -> None:
    await queue_fan_out(database_url, content, slack_api)
    first = serve(tmp_path, "first", database_url, slack_api)
    try:

        async def some_sent() -> bool:
            assert first.poll() is None, (tmp_path / "first.log").read_text()
            return sum(posted(slack_api).values()) >= DELIVERIES // 3

        await eventually(some_sent, 90, "the first third of the fan-out")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    counts = await outbox_counts(database_url)
    in_flight_at_kill = counts.get("claimed", 0)
    sent_before_restart = sum(posted(slack_api).values())
    assert counts.get("sent", 0) < DELIVERIES  # it really died in the middle

    second = serve(tmp_path, "second", database_url, slack_api)
    try:
        async with watching(database_url) as sent:

            async def all_sent() -> bool:
                assert second.poll() is None, (tmp_path / "second.log").read_text()
                return await sent() == DELIVERIES

            await eventually(all_sent, 120, "the rest of the fan-out after the restart", interval=POLL)
    finally:
        assert stop(second) == 0
    per_person = posted(slack_api)
    lost = DELIVERIES - len(per_person)
    duplicates = sum(n - 1 for n in per_person.values())
    backend = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    print(
        f"\nSIGKILL ({backend}, {DELIVERIES} deliveries, {IN_FLIGHT} in flight at most) after "
        f"{sent_before_restart} posts, {counts.get('sent', 0)} recorded as sent: {in_flight_at_kill} deliveries "
        f"in flight at the kill, {lost} lost, {duplicates} duplicates"
    )
    assert lost == 0
    assert duplicates <= in_flight_at_kill <= IN_FLIGHT
    assert await outbox_counts(database_url) == {"sent": DELIVERIES}


@pytest.mark.postgres
async def test_two_services_on_one_postgres_send_every_delivery_exactly_once(
    tmp_path: Path, shared_database: str, content: ContentLibrary, slack_api: SlackApiSimulator
) -> None:
    database_url = shared_database
    await queue_fan_out(database_url, content, slack_api)
    processes = [serve(tmp_path, f"replica{i}", database_url, slack_api) for i in range(2)]
    try:
        async with watching(database_url) as sent:

            async def all_sent() -> bool:
                for i, process in enumerate(processes):
                    assert process.poll() is None, (tmp_path / f"replica{i}.log").read_text()
                return await sent() == DELIVERIES

            await eventually(all_sent, 120, "the fan-out by two replicas", interval=POLL)
    finally:
        codes = [stop(p) for p in processes]
    assert codes == [0, 0]
    per_person = posted(slack_api)
    assert len(per_person) == DELIVERIES
    assert set(per_person.values()) == {1}  # exactly once, every one
    by_worker = await senders(database_url)
    assert len(by_worker) == 2  # both replicas did part of the work
    assert min(by_worker.values()) > DELIVERIES // 10


SCHEDULED = 400


def json_lines(log: Path) -> list[dict[str, Any]]:
    found = []
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append(record)
    return found


def materialised_lines(log: Path, schedule: str) -> list[dict[str, Any]]:
    """The JSON log lines in which a process materialised an occurrence of `schedule`."""
    return [
        record
        for record in json_lines(log)
        if record.get("event") == "outreach occurrence materialised" and record.get("schedule") == schedule
    ]


def trigger_added(log: Path) -> bool:
    """Whether the process's scheduler has a trigger for a schedule (APScheduler logs each job it adds)."""
    return any(
        record.get("event", "").startswith('Added job "OutreachRunner.fire"') for record in json_lines(log)
    )


@pytest.mark.postgres
async def test_a_schedule_firing_in_two_services_is_sent_once(
    tmp_path: Path, shared_database: str, slack_api: SlackApiSimulator
) -> None:
    """Both replicas have the schedule; its minute turns in both at once and both materialise the occurrence.
    The unique keys make it one occurrence with one delivery per person, sent once.

    The services and the CLI run on one clock the test moves (tests/support/clocked.py): once both replicas
    run with the schedule, the clock is set just before the next minute instead of waiting for the wall clock."""
    database_url = shared_database
    # A clock a second into a minute: nothing falls due by itself while the replicas start (nearly a minute).
    clock = tmp_path / "clock"
    move_clock(clock, datetime.now(UTC).replace(second=1, microsecond=0) + timedelta(minutes=1))
    _orgs, _org, _outbox, engine = await add_organisation(database_url, slack_api, SCHEDULED)
    await engine.dispose()
    ports = [free_port() for _ in range(2)]
    processes = [
        serve(tmp_path, f"replica{i}", database_url, slack_api, "INFO", port=port, clock=clock)
        for i, port in enumerate(ports)
    ]
    try:
        env = vipbot_env(
            tmp_path / "cli",
            free_port(),
            VIPBOT_DATABASE_URL=database_url,
            VIPBOT_SECRET_KEY=TEST_SECRET_KEY,
        )
        with (tmp_path / "cli.log").open("wb") as log:
            added = start_vipbot(
                [
                    *("schedule", "add", "linde", "every-minute", "--what", "column"),
                    *("--every", "cron * * * * *", "--to", "members", "--platform", "slack"),
                ],
                env,
                tmp_path,
                log,
                clock=clock,
            )

            async def added_it() -> bool:
                return added.poll() is not None

            await eventually(added_it, 60, "vipbot schedule add")  # the simulator keeps answering meanwhile
            assert added.returncode == 0, (tmp_path / "cli.log").read_text()
        for port in ports:
            await wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60)

        def both_have_the_trigger() -> bool:
            return all(trigger_added(tmp_path / f"replica{i}.log") for i in range(2))

        # Both replicas have read the schedule (a sync round, VIPBOT_OUTREACH_SYNC=2); then the minute turns
        # half a second later on every replica's clock.
        await eventually(both_have_the_trigger, 60, "the schedule's trigger in both replicas", interval=POLL)
        turning = FileOffsetClock(clock).now().replace(second=0, microsecond=0) + timedelta(minutes=1)
        move_clock(clock, turning - timedelta(seconds=0.5))

        async with watching(database_url) as sent:

            async def all_sent() -> bool:
                for i, process in enumerate(processes):
                    assert process.poll() is None, (tmp_path / f"replica{i}.log").read_text()
                return await sent() >= SCHEDULED

            await eventually(all_sent, 90, "the scheduled fan-out by two replicas", interval=POLL)
        await asyncio.sleep(1)  # a second materialisation or send would show up by now
    finally:
        codes = [stop(p) for p in processes]
    assert codes == [0, 0]

    per_person = posted(slack_api)
    assert len(per_person) == SCHEDULED
    assert set(per_person.values()) == {1}  # exactly once, every one
    assert await outbox_counts(database_url) == {"sent": SCHEDULED}
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            occurrences = (await session.exec(select(OutreachOccurrenceRow))).all()
    finally:
        await engine.dispose()
    assert len(occurrences) == 1  # the first minute only: stopped before the next one
    lines = [materialised_lines(tmp_path / f"replica{i}.log", "every-minute") for i in range(2)]
    first = [r for found in lines for r in found if r.get("first")]
    assert len(first) == 1  # one replica created the occurrence; any other found it there
    assert sum(r["deliveries"] for found in lines for r in found) == SCHEDULED
    replicas = sum(1 for found in lines if found)
    print(f"\nscheduled occurrence materialised by {replicas} of 2 replicas; {SCHEDULED} posts, each once")
    by_worker = await senders(database_url)
    assert len(by_worker) == 2  # both replicas sent part of it

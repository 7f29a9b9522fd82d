"""The outbox worker: outcomes recorded (in batches, surviving a failed write), retries with backoff, permanent
failures, Retry-After, pacing; and storms of 429 and 5xx through the real Slack and Teams gateways and renderers
against the Slack Web API simulator and the Bot Framework connector double."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import aiohttp
import pytest
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from bot.adapters.slack.gateway import SlackClients, SlackGateway
from bot.adapters.slack.oauth import StaticToken
from bot.adapters.slack.posts import slack_renderers
from bot.adapters.teams import reference_store
from bot.adapters.teams.gateway import RetryPolicy, TeamsGateway
from bot.adapters.teams.posts import teams_renderers
from bot.domain.clock import FixedClock, SystemClock
from bot.domain.delivery import Target, TargetKind
from bot.domain.outreach import Audience, What
from bot.domain.tenancy import Platform
from bot.security.secret import Secret
from bot.storage.db import session_factory
from bot.storage.outbox import SqlOutbox
from bot.storage.tables_outreach import OutreachDeliveryRow
from bot.storage.teams_references import TeamsReference, TeamsScope
from scheduler.worker import OutboxWorker, Pacer, PlatformDelivery, WorkerConfig
from tests.doubles.bf_connector import BotConnectorDouble
from tests.doubles.slack_api import DEFAULT_TOKEN, SlackApiSimulator
from tests.outreach.conftest import SLACK_TEAM, TENANT, Pipeline
from tests.outreach.fakes import permanent, rate_limited, transient


async def publish(p: Pipeline, audience: Audience | None = None) -> None:
    column = p.services.content.catalog.columns[0]
    await p.materialiser.publish_now(
        p.org, What.COLUMN, column.id, audience or Audience(groups=("linde", "zorg"), members=True), None
    )


async def drain_with_time(p: Pipeline, worker: OutboxWorker, rounds: int = 40) -> None:
    clock = p.services.clock
    assert isinstance(clock, FixedClock)
    for _ in range(rounds):
        await worker.drain()
        clock.advance(timedelta(minutes=30))


async def sent_at_least(p: Pipeline, count: int, timeout: float) -> None:  # noqa: ASYNC109
    for _ in range(int(timeout / 0.05)):
        if (await p.outbox.stats(p.org.id)).sent >= count:
            return
        await asyncio.sleep(0.05)


async def test_sent_rows_carry_the_platform_message_id(pipeline: Pipeline) -> None:
    p = pipeline
    await publish(p)
    worker = p.worker()
    assert await worker.drain() == 6
    stats = await p.outbox.stats(p.org.id)
    assert (stats.sent, stats.pending, stats.failed) == (6, 0, 0)
    assert sorted(p.slack.addresses()) == ["C-ALL", "U0000", "U0001", "U0002"]
    assert sorted(p.teams.addresses()) == ["19:zorg@thread", "a:teams-person"]
    assert await worker.drain() == 0  # nothing is sent twice


async def test_permanent_failures_are_recorded_never_retried_and_the_member_is_dropped(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    p.slack.fail("U0001", permanent("user_not_found"), times=5)
    p.teams.fail("19:zorg@thread", permanent("BotNotInConversationRoster"), times=5)
    await publish(p)
    await drain_with_time(p, p.worker())
    stats = await p.outbox.stats(p.org.id)
    assert (stats.sent, stats.failed) == (4, 2)
    assert dict(stats.failures) == {"user_not_found": 1, "BotNotInConversationRoster": 1}
    attempts = Counter(a for a, _ in p.slack.attempts + p.teams.attempts)
    assert attempts["U0001"] == 1
    assert attempts["19:zorg@thread"] == 1
    assert await p.members.count(p.org.id) == 3  # the person who left gets no more DMs


async def test_transient_failures_are_retried_with_backoff_then_given_up(pipeline: Pipeline) -> None:
    p = pipeline
    p.slack.fail("U0000", transient("http 503"), times=2)
    p.slack.fail("U0002", transient("http 500"), times=50)
    await publish(p)
    clock = p.services.clock
    assert isinstance(clock, FixedClock)
    worker = p.worker(WorkerConfig(max_attempts=4, backoff_base=60, backoff_max=3600, poll_interval=0.05))
    await worker.drain()
    assert p.slack.addresses().count("U0000") == 0  # not retried before its backoff has passed
    await worker.drain()
    assert Counter(a for a, _ in p.slack.attempts)["U0000"] == 1
    await drain_with_time(p, worker)
    stats = await p.outbox.stats(p.org.id)
    assert stats.sent == 5
    assert stats.failed == 1
    assert dict(stats.failures) == {"gave up after 4 attempts: http 500": 1}
    attempts = Counter(a for a, _ in p.slack.attempts)
    assert attempts["U0000"] == 3
    assert attempts["U0002"] == 4


async def test_retry_after_pauses_the_workspace(pipeline: Pipeline) -> None:
    p = pipeline
    p.services.clock = SystemClock()
    p.materialiser.clock = p.services.clock
    p.slack.fail_any(rate_limited(0.6), times=1)
    await publish(p, Audience(members=True, platforms=(Platform.SLACK,)))
    worker = p.worker()
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await sent_at_least(p, 3, timeout=10)
    stop.set()
    await task
    first_refusal = p.slack.attempts[0][1]
    assert all(r.at - first_refusal >= 0.6 for r in p.slack.sent)  # nobody was sent to during the pause
    assert sorted(p.slack.addresses()) == ["U0000", "U0001", "U0002"]


async def test_a_row_this_worker_claims_again_while_still_on_it_is_sent_once(pipeline: Pipeline) -> None:
    p = pipeline
    await publish(p, Audience(members=True, platforms=(Platform.SLACK,)))
    p.slack.delay = 0.1
    worker = p.worker(worker_id="w1")
    (delivery, *_) = await p.outbox.claim("w1", p.services.clock.now(), timedelta(seconds=60), 1)
    # Its lease ran out while the first task was still sending, and the worker claimed the row again.
    await asyncio.gather(worker.deliver(delivery), worker.deliver(delivery))
    assert [a for a, _ in p.slack.attempts] == [delivery.target.address]
    assert (await p.outbox.stats(p.org.id)).sent == 1


async def test_a_send_kept_waiting_past_half_its_lease_is_given_back(pipeline: Pipeline) -> None:
    p = pipeline
    await publish(p, Audience(members=True, platforms=(Platform.SLACK,)))
    worker = p.worker(WorkerConfig(rate_per_second=1000, lease=timedelta(seconds=2)), worker_id="w1")
    (delivery, *_) = await p.outbox.claim("w1", p.services.clock.now(), worker.config.lease, 1)
    pacer = worker.pacer(Platform.SLACK, SLACK_TEAM)
    pacer.pause(0.6)  # short enough to wait for (under half the lease) …
    task = asyncio.create_task(worker.deliver(delivery))
    await asyncio.sleep(0.4)
    pacer.pause(0.8)  # … but a second Retry-After keeps it waiting past half the lease
    await task
    assert p.slack.attempts == []
    stats = await p.outbox.stats(p.org.id)
    assert (stats.claimed, stats.sent, stats.failed) == (0, 0, 0)
    claimed = await p.outbox.claim("w2", p.services.clock.now(), worker.config.lease, 10)
    again = next(d for d in claimed if d.id == delivery.id)  # due again at once, for any worker
    assert again.attempts == delivery.attempts  # giving it back did not count as an attempt


async def test_the_pacer_keeps_to_the_rate() -> None:
    pacer = Pacer(rate=50)
    started = time.monotonic()
    for _ in range(26):
        await pacer.wait_turn()
    assert 0.48 <= time.monotonic() - started < 0.8


async def test_a_stalled_loop_never_releases_a_burst() -> None:
    pacer = Pacer(rate=100)  # a turn every 10 ms; the next may start 1 ms early to keep to the plan
    started: list[float] = []

    async def send(i: int) -> None:
        await pacer.wait_turn()
        started.append(time.monotonic())
        if i == 5:
            time.sleep(0.05)  # noqa: ASYNC251  (the event loop is stuck for five turns' worth)

    await asyncio.gather(*(send(i) for i in range(20)))
    gaps = [b - a for a, b in itertools.pairwise(started)]
    assert min(gaps) >= 0.009 - 0.0002, [round(g * 1000, 2) for g in gaps]
    assert started[-1] - started[0] >= 19 * 0.009 + 0.04  # the stall was not made up for by a burst


async def test_a_send_waiting_for_its_slot_queues_again_behind_a_pause() -> None:
    pacer = Pacer(rate=20)  # a slot every 50 ms
    released: list[float] = []
    first = asyncio.Event()

    async def send() -> None:
        await pacer.wait_turn()
        released.append(time.monotonic())
        first.set()

    waiting = [asyncio.create_task(send()) for _ in range(5)]
    await first.wait()
    paused_at = time.monotonic()
    pacer.pause(0.4)  # a 429 arrived: the four others already hold slots inside the pause
    await asyncio.gather(*waiting)
    assert all(t >= paused_at + 0.4 for t in released[1:]), [round(t - paused_at, 3) for t in released]
    gaps = [b - a for a, b in itertools.pairwise(released[1:])]
    assert min(gaps) >= 0.045  # and still spaced to the rate after it


# --- recording sends ------------------------------------------------------------------------------------

CANARY = "canary-7f3e-message-id"


class FlakyOutbox(SqlOutbox):
    """An outbox whose batch write fails `failures` times first, with bound values in the error's text (as a real
    database error has them)."""

    def __init__(self, engine: AsyncEngine, failures: int) -> None:
        super().__init__(engine)
        self.failures = failures
        self.writes = 0

    async def mark_sent_many(
        self, worker_id: str, sent: Sequence[tuple[UUID, str]], now: datetime
    ) -> set[UUID]:
        self.writes += 1
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("UPDATE outreach_delivery …", {"message_id": CANARY}, OSError("gone"))
        return await super().mark_sent_many(worker_id, sent, now)


async def test_a_failed_batch_write_is_retried_and_nothing_is_marked_failed(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    p = pipeline
    caplog.set_level(logging.INFO, logger="scheduler.worker")
    await publish(p)
    flaky = FlakyOutbox(p.services.engine, failures=2)
    worker = p.worker(
        WorkerConfig(rate_per_second=1000, record_backoff=0.01, record_attempts=5), outbox=flaky
    )
    assert await worker.drain() == 6
    stats = await p.outbox.stats(p.org.id)
    assert (stats.sent, stats.failed, stats.claimed) == (6, 0, 0)
    assert (worker.sent, worker.failed, worker.unrecorded) == (6, 0, 0)
    assert flaky.writes >= 3
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "recording sent deliveries failed; retrying"
    ] * 2
    assert CANARY not in caplog.text


async def test_sends_that_cannot_be_recorded_stay_claimed_and_go_out_again_after_the_lease(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    p = pipeline
    clock = p.services.clock
    assert isinstance(clock, FixedClock)
    caplog.set_level(logging.INFO, logger="scheduler.worker")
    await publish(p)
    config = WorkerConfig(rate_per_second=1000, record_backoff=0.01, record_attempts=3)
    broken = p.worker(config, outbox=FlakyOutbox(p.services.engine, failures=1000))
    assert await broken.drain() == 6
    stats = await p.outbox.stats(p.org.id)
    assert (stats.claimed, stats.sent, stats.failed) == (6, 0, 0)  # not failed: they were sent
    assert (broken.sent, broken.unrecorded, broken.failed) == (0, 6, 0)
    assert "sent deliveries could not be recorded" in caplog.text
    assert CANARY not in caplog.text

    first_round = len(p.slack.sent) + len(p.teams.sent)
    assert first_round == 6
    assert await p.worker(config).drain() == 0  # nothing is handed out while the lease runs
    clock.advance(config.lease + timedelta(seconds=1))
    assert await p.worker(config).drain() == 6
    stats = await p.outbox.stats(p.org.id)
    assert (stats.sent, stats.claimed, stats.failed) == (6, 0, 0)
    duplicates = len(p.slack.sent) + len(p.teams.sent) - 6
    assert duplicates == 6 <= config.in_flight  # at most what was in flight when the writes failed


# --- storms through the real gateways ------------------------------------------------------------------

RETRY_AFTER = 1.0
TOLERANCE = 0.05  # clock granularity between a 429 leaving the double and the next request arriving


def use_real_time(p: Pipeline) -> None:
    p.services.clock = SystemClock()
    p.materialiser.clock = p.services.clock


async def until_settled(p: Pipeline, timeout: float) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = await p.outbox.stats(p.org.id)
        if stats.pending == 0 and stats.claimed == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the outbox did not settle in {timeout} s: {await p.outbox.stats(p.org.id)}")


async def run_until_settled(worker: OutboxWorker, p: Pipeline, timeout: float) -> None:  # noqa: ASYNC109
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await until_settled(p, timeout)
    finally:
        stop.set()
        await task


async def message_ids(p: Pipeline) -> dict[str, str | None]:
    """address → the platform message id recorded in the outbox."""
    async with session_factory(p.services.engine)() as session:
        rows = await session.exec(select(OutreachDeliveryRow))
        return {r.address: r.message_id for r in rows}


def assert_retry_after_honoured(
    calls: list[tuple[float, str, int]], in_flight: int | None = None, worker_pauses: bool = False
) -> None:
    """`calls` is (time, conversation, status) per request, in order. After every 429 the refused conversation
    waits Retry-After. With `in_flight`, the whole workspace waits: the calls inside the window are for
    deliveries already under way (at most `in_flight` conversations); when the worker itself pauses the
    workspace, nothing new starts inside the window at all."""
    refusals = [(at, who) for at, who, status in calls if status == 429]
    assert refusals, "the storm never reached the platform"
    for at, who in refusals:
        later = [(t, w) for t, w, _ in calls if t > at]
        again = next((t for t, w in later if w == who), None)
        assert again is not None, who
        assert again - at >= RETRY_AFTER - TOLERANCE, (who, again - at)
        if in_flight is not None:
            window = {w for t, w in later if t - at < RETRY_AFTER - TOLERANCE}
            assert len(window) <= in_flight, (at, window)
        if worker_pauses:
            assert not [t for t, _ in later if 0.25 < t - at < RETRY_AFTER - TOLERANCE]


@pytest.mark.parametrize(
    ("storm", "sdk_429_retries"),
    [(429, True), (429, False), (503, True)],
    ids=["429-sdk-retries", "429-worker-pauses", "503"],
)
async def test_slack_storms_are_weathered(
    pipeline: Pipeline, slack_api: SlackApiSimulator, storm: int, sdk_429_retries: bool
) -> None:
    p = pipeline
    use_real_time(p)
    people = [f"U{i:04d}" for i in range(40)]
    for user in people:
        slack_api.add_user(user)
    await p.outbox.register_members(
        p.org.id, [Target(Platform.SLACK, SLACK_TEAM, TargetKind.PERSON, u) for u in people]
    )
    await publish(p, Audience(members=True, platforms=(Platform.SLACK,)))
    if storm == 429:
        # With slack-sdk's handler each call waits out two 429s itself; without it the worker pauses at once.
        slack_api.fail_next(
            "chat.postMessage", status=429, retry_after=int(RETRY_AFTER), count=20 if sdk_429_retries else 6
        )
    else:
        slack_api.fail_next("chat.postMessage", status=503, count=10)
        # Slack posted these and then failed: the gateway finds them by their marker and does not post again.
        slack_api.fail_next("chat.postMessage", status=503, count=5, accept=True)
    clients = SlackClients(slack_api.api_url, StaticToken(Secret(DEFAULT_TOKEN)))
    client = await clients.for_workspace(SLACK_TEAM)
    assert any(isinstance(h, AsyncRateLimitErrorRetryHandler) for h in client.retry_handlers)
    if not sdk_429_retries:
        client.retry_handlers = [
            h for h in client.retry_handlers if not isinstance(h, AsyncRateLimitErrorRetryHandler)
        ]
    in_flight = 8
    worker = OutboxWorker(
        p.outbox,
        {
            Platform.SLACK: PlatformDelivery(
                slack_renderers(p.services.content.translator), SlackGateway(clients, backoff=0.05)
            )
        },
        p.posts,
        p.services.clock,
        config=WorkerConfig(rate_per_second=200, in_flight=in_flight, backoff_base=0.05, max_attempts=30),
    )
    await run_until_settled(worker, p, timeout=60)

    stats = await p.outbox.stats(p.org.id)
    assert (stats.sent, stats.failed) == (len(people), 0), stats.failures
    per_dm = dict(slack_api.messages)
    assert sorted(per_dm) == sorted(slack_api.dm_channel(u) for u in people)
    assert {len(m) for m in per_dm.values()} == {1}  # exactly once, every one
    recorded = await message_ids(p)
    for user in people:
        dm = slack_api.dm_channel(user)
        assert recorded[user] == f"{dm}/{per_dm[dm][0]['ts']}"  # marked sent with Slack's own message id
    posts = slack_api.calls_to("chat.postMessage")
    if storm == 429:
        calls = [(c.at, str(c.params["channel"]), c.status) for c in posts]
        # Slack limits chat.postMessage per workspace: after a 429 only the posts already under way reach it.
        assert_retry_after_honoured(calls, in_flight, worker_pauses=not sdk_429_retries)
    else:
        assert sum(1 for c in posts if c.status == 503) == 15
        assert slack_api.calls_to("conversations.history")  # the gateway looked before posting again


class RequestLog:
    """Client-side times of every connector request (aiohttp tracing): (start, path, status, end)."""

    def __init__(self) -> None:
        self.requests: list[tuple[float, str, int, float]] = []
        self._started: dict[int, float] = {}
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._start)
        self.config.on_request_end.append(self._end)

    async def _start(
        self, _s: aiohttp.ClientSession, context: Any, _p: aiohttp.TraceRequestStartParams
    ) -> None:
        self._started[id(context)] = time.monotonic()

    async def _end(
        self, _s: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestEndParams
    ) -> None:
        started = self._started.pop(id(context))
        self.requests.append((started, params.url.path, params.response.status, time.monotonic()))

    def calls(self) -> list[tuple[float, str, int]]:
        """(time, conversation path, status): a refusal at the time its answer came, a request when it left."""
        found = [
            (end if status == 429 else start, path, status) for start, path, status, end in self.requests
        ]
        return sorted(found)


async def test_teams_connector_storms_are_weathered(
    pipeline: Pipeline, bf_connector: BotConnectorDouble
) -> None:
    p = pipeline
    use_real_time(p)
    store = reference_store(p.services)
    await store.connect_tenant(p.org.id, TENANT)
    await p.members.deactivate(p.org.id, Target(Platform.TEAMS, TENANT, TargetKind.PERSON, "a:teams-person"))
    addresses: dict[str, str] = {}
    for i in range(30):
        reference = TeamsReference(
            scope=TeamsScope.PERSONAL,
            tenant_id=TENANT,
            service_url=bf_connector.url,
            bot_id="28:vipbot",
            conversation_id=f"a:person-{i}",
            user_id=f"29:person-{i}",
        )
        addresses[f"a:person-{i}"] = await store.save(p.org.id, reference)
    await p.outbox.register_members(
        p.org.id, [Target(Platform.TEAMS, TENANT, TargetKind.PERSON, a) for a in addresses.values()]
    )
    await publish(p, Audience(members=True, platforms=(Platform.TEAMS,)))
    bf_connector.fail_next(10, 429, retry_after=RETRY_AFTER)
    bf_connector.fail_next(10, 502)
    bf_connector.fail_next(5, 429, retry_after=RETRY_AFTER)
    bf_connector.remove_conversation("a:person-7")
    timing = RequestLog()
    in_flight = 8
    async with aiohttp.ClientSession(trace_configs=[timing.config]) as http:
        gateway = TeamsGateway(store, http, None, RetryPolicy(attempts=3, base_delay=0.05, max_delay=5))
        teams_renderer = teams_renderers(p.services.content.translator)
        worker = OutboxWorker(
            p.outbox,
            {Platform.TEAMS: PlatformDelivery(teams_renderer, gateway)},
            p.posts,
            p.services.clock,
            members=p.members,
            config=WorkerConfig(rate_per_second=200, in_flight=in_flight, backoff_base=0.05, max_attempts=30),
        )
        await run_until_settled(worker, p, timeout=60)

    stats = await p.outbox.stats(p.org.id)
    assert (stats.sent, stats.failed) == (29, 1)
    assert dict(stats.failures) == {
        "the bot was removed from the conversation (BotNotInConversationRoster)": 1
    }
    accepted = Counter(
        str(r.conversation_id) for r in bf_connector.requests if r.kind == "send" and r.status == 200
    )
    assert set(accepted) == set(addresses) - {"a:person-7"}
    assert set(accepted.values()) == {1}  # exactly once, every one
    assert await store.get(addresses["a:person-7"]) is None  # the bot was removed: reference forgotten …
    assert await p.members.count(p.org.id) == 3 + 29  # … and no more DMs to that person
    recorded = await message_ids(p)
    ids = [recorded[addresses[c]] for c in accepted]
    assert all(i is not None and i.startswith("activity-") for i in ids)  # the connector's activity ids
    assert len(set(ids)) == len(ids)
    # Teams throttles per conversation: the gateway waits Retry-After on the call that got it, and other
    # conversations carry on meanwhile.
    assert_retry_after_honoured(timing.calls())

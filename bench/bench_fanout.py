"""Fan-out of one column to 10,000 Slack DMs through the outbox, against the Slack Web API simulator enforcing a
rate limit on chat.postMessage.

Run by hand:  .venv/bin/python bench/bench_fanout.py [--users 10000] [--limit 200] [--burst 2]
              [--no-sdk-429-retries]

The simulator runs in a child process (its CPU is not counted), with its garbage collector off: it stamps a call
when it handles it, so a pause of its own would bunch the calls waiting meanwhile into a refused burst. This
process materialises the occurrence and runs one outbox worker with the real Slack renderer and gateway, on a
fresh SQLite file (or --database URL), through one kept-alive HTTP session as `vipbot serve` does. The gateway's
client keeps slack-sdk's AsyncRateLimitErrorRetryHandler, as in production; --no-sdk-429-retries takes it out, so
every 429 reaches the worker, which pauses the workspace for Retry-After.

The limiter: by default a token bucket of `--limit` calls a second that saves up at most 2 calls (`--burst 2`):
the long-run limit is the same, but a call that arrives a few milliseconds early after a slow one is not refused.
`--burst 1` uses the simulator's own limiter, which refuses any two calls closer together than 1/limit as they
arrive; client-side latency varies by a few milliseconds per call (the event loop), so at high limits that
limiter refuses calls that left on time, and each refusal costs a Retry-After of at least a second.

Prints the achieved send rate as a share of the limit, lost and duplicate messages (counted in the simulator),
the 429s it answered, and CPU time per delivery of this process, split three ways:
- materialiser: `publish_now` (audience, occurrence, 10,000 outbox rows), measured alone;
- scheduler while sending: the worker — claims, rendering, pacing, recording — with its database driver, measured
  in a second, identical run whose gateway answers at once without any HTTP (same pace, same database work);
- Slack client: the rest of the real run's sending CPU (the Slack gateway, slack-sdk and aiohttp), by difference.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import math
import multiprocessing
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

from bot.adapters.slack.gateway import API_TIMEOUT, BUDGETED_METHODS, SlackClients, SlackGateway, TokenSource
from bot.adapters.slack.members import MemberPolicy, SlackMemberSync
from bot.adapters.slack.oauth import StaticToken
from bot.adapters.slack.posts import slack_renderers
from bot.catalog import ContentLibrary, load_content
from bot.domain.clock import SystemClock
from bot.domain.delivery import Gateway, Rendered, Sent, Target, TargetKind
from bot.domain.outreach import Audience, What
from bot.domain.tenancy import Organisation, Platform
from bot.security.secret import Secret
from bot.settings import BUNDLED_CONTENT
from bot.storage.db import create_engine, session_factory
from bot.storage.members import SqlMemberSource
from bot.storage.migrate import upgrade
from bot.storage.organisations import SqlOrganisationRepository
from bot.storage.outbox import SqlOutbox
from bot.storage.rate_budget import SqlRateBudget
from bot.storage.schedules import SqlMemberDirectory, SqlScheduleRepository
from bot.storage.slack_installations import SqlSlackInstallations
from bot.storage.team_sessions import SqlTeamSessionStore
from scheduler.budget import SharedPacers
from scheduler.materialiser import Materialiser
from scheduler.posts import OutreachPosts
from scheduler.worker import OutboxWorker, PlatformDelivery, WorkerConfig

if TYPE_CHECKING:
    from tests.doubles.slack_api import SlackApiSimulator

TEAM, TOKEN = "T0001", "xoxb-test"


def make_simulator(burst: int) -> SlackApiSimulator:
    """The simulator; with `burst` > 1 a token bucket (per method and token, i.e. per workspace) replaces its
    strict spacing: `limit` calls a second on average, up to `burst` in a row after a quiet moment. The refusal is
    the same (429, Retry-After >= 1 s)."""
    from tests.doubles.slack_api import SlackApiSimulator

    class BucketSimulator(SlackApiSimulator):
        buckets: dict[tuple[str, str | None], tuple[float, float]]

        def _rate_limited(self, method: str, token: str | None) -> int | None:
            per_second = self._limits.get(method)
            if per_second is None:
                return None
            now = time.monotonic()
            tokens, then = self.buckets.get((method, token), (float(burst), now))
            tokens = min(float(burst), tokens + (now - then) * per_second)
            if tokens < 1:
                self.buckets[(method, token)] = (tokens, now)
                return max(1, math.ceil((1 - tokens) / per_second))
            self.buckets[(method, token)] = (tokens - 1, now)
            return None

    if burst <= 1:
        return SlackApiSimulator()
    sim = BucketSimulator()
    sim.buckets = {}
    return sim


def simulator_process(conn: Connection, users: int, limit: float, burst: int) -> None:
    async def main() -> None:
        # The simulator stamps a call when it handles it, not when it arrives: a garbage-collector pause of its
        # own (it keeps every call and message) would bunch the calls queued meanwhile and refuse them as a
        # burst the client never sent. It is a measuring instrument here, so it runs without the collector.
        gc.disable()
        sim = make_simulator(burst)
        await sim.start()
        for i in range(users):
            sim.add_user(f"U{i:06d}")
        sim.limit("chat.postMessage", per_second=limit)
        conn.send(sim.api_url)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # "stop"
        calls = sim.calls_to("chat.postMessage")
        times = sorted(c.at for c in calls if c.status == 200)
        conn.send(
            {
                "per_dm": {channel: len(messages) for channel, messages in sim.messages.items()},
                "refused": sum(1 for c in calls if c.status == 429),
                "first": times[0] if times else 0.0,
                "last": times[-1] if times else 0.0,
            }
        )
        await sim.stop()

    asyncio.run(main())


class AnswerAtOnce:
    """A gateway that sends nothing: the calibration run measures the scheduler's CPU without a Slack client."""

    platform = Platform.SLACK

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    async def send(self, target: Target, message: Rendered) -> Sent:
        return Sent(f"D{target.address[1:]}/{next(self._ids)}")

    async def update(self, target: Target, sent: Sent, message: Rendered) -> None:
        return None


@dataclass(frozen=True)
class Options:
    users: int
    limit: float
    headroom: float
    in_flight: int
    database: str | None
    sdk_429_retries: bool
    burst: int
    give_up: float
    shared_budget: bool


@dataclass(frozen=True)
class Run:
    deliveries: int
    sent: int
    failed: int
    materialise_wall: float
    materialise_cpu: float
    send_wall: float
    send_cpu: float


async def fan_out(options: Options, content: ContentLibrary, gateway: Gateway, label: str) -> Run:
    url = options.database or f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='vipbot-bench-')}/bench.db"
    engine = create_engine(url)
    await upgrade(engine)
    sessions = session_factory(engine)
    orgs = SqlOrganisationRepository(sessions)
    org = await orgs.add_organisation(
        "Bench", f"bench-{label}-{time.time_ns()}", "Europe/Amsterdam", "nl", 90
    )
    outbox = SqlOutbox(engine)
    await outbox.register_members(
        org.id, [Target(Platform.SLACK, TEAM, TargetKind.PERSON, f"U{i:06d}") for i in range(options.users)]
    )
    clock = SystemClock()
    materialiser = Materialiser(
        SqlScheduleRepository(sessions),
        outbox,
        orgs,
        SqlMemberDirectory(sessions),
        content,
        clock,
        pace=options.limit * options.headroom,  # as vipbot serve: deliveries fall due at the workspace's pace
    )
    posts = OutreachPosts(
        content,
        orgs,
        SqlTeamSessionStore(sessions, Secret(b"b" * 32)),
        "https://portal.example",
        "https://bot.example",
    )
    worker = OutboxWorker(
        outbox,
        {Platform.SLACK: PlatformDelivery(slack_renderers(content.translator), gateway)},
        posts,
        clock,
        config=WorkerConfig(
            rate_per_second=options.limit * options.headroom,
            in_flight=options.in_flight,
            lease=timedelta(seconds=60),
            poll_interval=0.2,
        ),
        # As `vipbot serve` does: the workspace's send slots are reserved in the database.
        pacers=SharedPacers(SqlRateBudget(engine), options.limit * options.headroom)
        if options.shared_budget
        else None,
    )

    cpu0, wall0 = time.process_time(), time.monotonic()
    done = await materialiser.publish_now(
        org, What.COLUMN, content.catalog.columns[0].id, Audience(members=True), None
    )
    cpu1, wall1 = time.process_time(), time.monotonic()
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    # Watch the worker's own counters: polling the database here would add CPU that is not the scheduler's.
    deadline = time.monotonic() + options.give_up
    while True:
        finished = worker.sent + worker.failed + worker.unrecorded >= done.deliveries
        if finished or task.done() or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    stop.set()
    await task
    cpu2, wall2 = time.process_time(), time.monotonic()
    stats = await outbox.stats(org.id)
    await engine.dispose()
    return Run(
        done.deliveries, stats.sent, stats.failed, wall1 - wall0, cpu1 - cpu0, wall2 - wall1, cpu2 - cpu1
    )


async def run(options: Options) -> None:
    content = load_content(BUNDLED_CONTENT)
    parent, child = multiprocessing.Pipe()
    sim = multiprocessing.Process(
        target=simulator_process, args=(child, options.users, options.limit, options.burst), daemon=True
    )
    sim.start()
    api_url = parent.recv()
    clients = SlackClients(api_url, StaticToken(Secret(TOKEN)))
    # As `vipbot serve` does: one kept-alive HTTP session for every Web API call.
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=API_TIMEOUT))
    clients.use_session(http)
    client = await clients.for_workspace(TEAM)
    if not options.sdk_429_retries:
        client.retry_handlers = [
            h for h in client.retry_handlers if not isinstance(h, AsyncRateLimitErrorRetryHandler)
        ]
    real = await fan_out(options, content, SlackGateway(clients), "slack")
    await http.close()
    parent.send("stop")
    seen = parent.recv()
    sim.join(timeout=10)
    calibration = await fan_out(options, content, AnswerAtOnce(), "calibration")

    users = options.users
    per_dm: dict[str, int] = seen["per_dm"]
    unsent = real.deliveries - real.sent - real.failed  # only when a run was stopped by --give-up
    lost = users - len(per_dm) - real.failed - unsent  # neither posted, nor failed, nor still queued
    duplicates = sum(n - 1 for n in per_dm.values())
    span = seen["last"] - seen["first"]
    achieved = (sum(per_dm.values()) - 1) / span if span > 0 else float("inf")
    per = 1000 / users
    own = calibration.materialise_cpu + calibration.send_cpu
    client_cpu = real.send_cpu - calibration.send_cpu
    pace = options.limit * options.headroom
    print(
        f"fan-out of one column to {users:,} Slack DMs, simulator limit {options.limit:g}/s on chat.postMessage"
    )
    limiter = (
        "strict spacing (the simulator's own: any two calls closer than 1/limit, a 429)"
        if options.burst <= 1
        else f"token bucket, bursts of up to {options.burst}"
    )
    print(f"  limiter:                   {limiter}")
    print(f"  database:                  {'SQLite file' if options.database is None else 'given URL'}")
    print(
        "  pacing:                    "
        + ("send budget in the database (as vipbot serve)" if options.shared_budget else "in-process pacer")
    )
    print(
        "  slack-sdk 429 handler:     "
        + (
            "attached (as in production)"
            if options.sdk_429_retries
            else "removed (the worker pauses on Retry-After)"
        )
    )
    print(
        f"  worker pace:               {pace:g}/s ({options.headroom:.0%} of the limit), {options.in_flight} in flight"
    )
    print(f"  materialised:              {real.deliveries:,} outbox rows in {real.materialise_wall:.2f} s")
    print(f"  sent / failed:             {real.sent:,} / {real.failed:,} in {real.send_wall:.1f} s")
    if real.sent + real.failed < real.deliveries:
        print(
            f"  (stopped after {options.give_up:g} s with {real.deliveries - real.sent - real.failed:,} unsent)"
        )
    print(f"  achieved rate:             {achieved:.1f}/s = {achieved / options.limit:.1%} of the limit")
    print(f"  429s from the simulator:   {seen['refused']}")
    print(f"  lost:                      {lost}")
    print(f"  duplicates:                {duplicates}")
    print("  CPU of this process per delivery (the simulator runs in another process):")
    print(f"    total:                   {(real.materialise_cpu + real.send_cpu) * per:.3f} ms")
    print(f"    materialiser:            {real.materialise_cpu * per:.3f} ms")
    print(
        f"    scheduler while sending: {calibration.send_cpu * per:.3f} ms "
        "(worker + database driver, from the run without HTTP)"
    )
    print(
        f"    Slack client:            {client_cpu * per:.3f} ms (gateway, slack-sdk, aiohttp: by difference)"
    )
    print(
        f"    scheduler's own:         {own * per:.3f} ms (materialiser + worker, calibration run: "
        f"{calibration.sent:,} recorded in {calibration.send_wall:.1f} s)"
    )


# --- many workspaces, one or more replicas --------------------------------------------------------------------


def team_of(index: int) -> tuple[str, str]:
    return f"T{index:04d}", f"xoxb-w{index:04d}"


def many_simulator_process(conn: Connection, workspaces: int, users: int, limit: float, burst: int) -> None:
    async def main() -> None:
        gc.disable()  # see simulator_process
        sim = make_simulator(burst)
        await sim.start()
        for w in range(workspaces):
            team, token = team_of(w)
            sim.add_workspace(team, token)
            for u in range(users):
                sim.add_user(f"U{w:04d}{u:05d}", team_id=team, locale="en-US" if u % 4 == 0 else "nl-NL")
        sim.limit("chat.postMessage", per_second=limit)
        conn.send(sim.api_url)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # "stop"
        per_workspace: dict[str, dict[str, float]] = {}
        for call in sim.calls_to("chat.postMessage"):
            figures = per_workspace.setdefault(
                str(call.token), {"ok": 0, "refused": 0, "first": math.inf, "last": 0.0}
            )
            if call.status == 429:
                figures["refused"] += 1
            elif call.status == 200:
                figures["ok"] += 1
                figures["first"] = min(figures["first"], call.at)
                figures["last"] = max(figures["last"], call.at)
        conn.send(
            {
                "per_dm": {channel: len(messages) for channel, messages in sim.messages.items()},
                "per_workspace": per_workspace,
            }
        )
        await sim.stop()

    asyncio.run(main())


class WorkspaceTokens(TokenSource):
    async def token_for(self, workspace_id: str) -> Secret[str] | None:
        return Secret(f"xoxb-w{workspace_id[1:]}")


def replica_process(conn: Connection, index: int, api_url: str, database: str, options: Options) -> None:
    async def main() -> None:
        content = load_content(BUNDLED_CONTENT)
        engine = create_engine(database)
        sessions = session_factory(engine)
        outbox = SqlOutbox(engine)
        posts = OutreachPosts(
            content,
            SqlOrganisationRepository(sessions),
            SqlTeamSessionStore(sessions, Secret(b"b" * 32)),
            "https://portal.example",
            "https://bot.example",
        )
        clients = SlackClients(
            api_url, WorkspaceTokens(), BUDGETED_METHODS if options.shared_budget else frozenset()
        )
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=API_TIMEOUT))
        clients.use_session(http)
        rate = options.limit * options.headroom
        worker = OutboxWorker(
            outbox,
            {Platform.SLACK: PlatformDelivery(slack_renderers(content.translator), SlackGateway(clients))},
            posts,
            SystemClock(),
            config=WorkerConfig(
                rate_per_second=rate,
                in_flight=options.in_flight,
                lease=timedelta(seconds=60),
                poll_interval=0.2,
            ),
            worker_id=f"replica-{index}",
            pacers=SharedPacers(SqlRateBudget(engine), rate) if options.shared_budget else None,
        )
        loop = asyncio.get_running_loop()
        conn.send("ready")
        await loop.run_in_executor(None, conn.recv)  # "go"
        stop = asyncio.Event()
        cpu0, wall0 = time.process_time(), time.monotonic()
        task = asyncio.create_task(worker.run(stop))
        await loop.run_in_executor(None, conn.recv)  # "stop"
        stop.set()
        await task
        cpu1, wall1 = time.process_time(), time.monotonic()
        await http.close()
        await engine.dispose()
        conn.send(
            {
                "sent": worker.sent,
                "failed": worker.failed,
                "unrecorded": worker.unrecorded,
                "cpu": cpu1 - cpu0,
                "wall": wall1 - wall0,
            }
        )

    asyncio.run(main())


async def prepare_many(
    database: str, api_url: str, workspaces: int, content: ContentLibrary
) -> tuple[list[Organisation], float, int]:
    """Organisations linked to their workspaces, the directory filled by the Slack member source (users.list),
    nothing else: returns the organisations, the member sync's wall time, and the members found."""
    engine = create_engine(database)
    await upgrade(engine)
    sessions = session_factory(engine)
    orgs = SqlOrganisationRepository(sessions)
    installations = SqlSlackInstallations(sessions, Secret(b"m" * 32))
    organisations = []
    for w in range(workspaces):
        org = await orgs.add_organisation(
            f"Client {w}", f"client-{w}-{time.time_ns()}", "Europe/Amsterdam", "nl", 90
        )
        await installations.link(org.id, team_of(w)[0])
        organisations.append(org)
    clients = SlackClients(api_url, WorkspaceTokens())
    sync = SlackMemberSync(
        clients, SqlMemberSource(engine), installations, SystemClock(), MemberPolicy(), timedelta(hours=12)
    )
    wall = time.monotonic()
    await sync.sync_due()
    wall = time.monotonic() - wall
    members = await SqlMemberDirectory(sessions).count(organisations[0].id) * workspaces
    await engine.dispose()
    return organisations, wall, members


async def run_many(options: Options, workspaces: int, users: int, replicas: int) -> None:  # noqa: PLR0915
    content = load_content(BUNDLED_CONTENT)
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    sim = spawn.Process(
        target=many_simulator_process,
        args=(child, workspaces, users, options.limit, options.burst),
        daemon=True,
    )
    sim.start()
    api_url = parent.recv()
    database = options.database
    if database is None and replicas > 1:
        from tests.support.databases import create_database, start_postgres

        workdir = Path(tempfile.mkdtemp(prefix="vipbot-bench-pg-"))
        workdir.chmod(0o755)  # noqa: ASYNC240  (once, before anything runs)
        database, _name = await create_database(start_postgres(workdir))
    if database is None:
        database = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='vipbot-bench-')}/bench.db"
    organisations, sync_wall, members = await prepare_many(database, api_url, workspaces, content)

    pipes = []
    processes = []
    for index in range(replicas):
        mine, theirs = spawn.Pipe()
        process = spawn.Process(
            target=replica_process, args=(theirs, index, api_url, database, options), daemon=True
        )
        process.start()
        pipes.append(mine)
        processes.append(process)
    for pipe in pipes:
        assert pipe.recv() == "ready"  # noqa: S101

    engine = create_engine(database)
    sessions = session_factory(engine)
    outbox = SqlOutbox(engine)
    materialiser = Materialiser(
        SqlScheduleRepository(sessions),
        outbox,
        SqlOrganisationRepository(sessions),
        SqlMemberDirectory(sessions),
        content,
        SystemClock(),
        pace=options.limit * options.headroom,
    )
    cpu0, wall0 = time.process_time(), time.monotonic()
    deliveries = 0
    # One moment for every organisation, as when their weekly schedules fire at the same minute.
    moment = SystemClock().now()
    for org in organisations:
        done = await materialiser.publish_now(
            org, What.COLUMN, content.catalog.columns[0].id, Audience(members=True), None, send_at=moment
        )
        deliveries += done.deliveries
    materialise_cpu, materialise_wall = time.process_time() - cpu0, time.monotonic() - wall0
    for pipe in pipes:
        pipe.send("go")
    deadline = time.monotonic() + options.give_up
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        stats = await outbox.stats()
        if stats.pending + stats.claimed == 0:
            break
    for pipe in pipes:
        pipe.send("stop")
    figures = [pipe.recv() for pipe in pipes]
    for process in processes:
        process.join(timeout=10)
    stats = await outbox.stats()
    await engine.dispose()
    parent.send("stop")
    seen = parent.recv()
    sim.join(timeout=10)

    per_dm: dict[str, int] = seen["per_dm"]
    per_workspace: dict[str, dict[str, float]] = seen["per_workspace"]
    expected = workspaces * users
    lost = expected - len(per_dm) - stats.failed - stats.pending - stats.claimed
    duplicates = sum(n - 1 for n in per_dm.values())
    posted = sum(int(f["ok"]) for f in per_workspace.values())
    first = min(f["first"] for f in per_workspace.values())
    last = max(f["last"] for f in per_workspace.values())
    achieved = (posted - 1) / (last - first) if last > first else float("inf")
    summed = workspaces * options.limit
    refused = {token: int(f["refused"]) for token, f in per_workspace.items() if f["refused"]}
    rates = sorted(
        (f["ok"] - 1) / (f["last"] - f["first"]) for f in per_workspace.values() if f["last"] > f["first"]
    )
    cpu = sum(f["cpu"] for f in figures)
    print(
        f"fan-out of one column to {expected:,} Slack DMs in {workspaces} workspaces ({users} members each, "
        f"read with users.list), {replicas} replica(s)"
    )
    print(
        f"  simulator limit:           {options.limit:g}/s per workspace on chat.postMessage, summed {summed:g}/s"
    )
    print(f"  limiter:                   token bucket, bursts of up to {options.burst}")
    print(f"  database:                  {database.split(':', 1)[0].split('+', 1)[0]}")
    print(
        "  pacing:                    "
        + ("send budget in the database (as vipbot serve)" if options.shared_budget else "in-process pacers")
    )
    print(
        f"  worker pace:               {options.limit * options.headroom:g}/s per workspace, "
        f"{options.in_flight} in flight"
    )
    print(f"  member sync:               {members:,} members in {sync_wall:.1f} s")
    print(f"  materialised:              {deliveries:,} outbox rows in {materialise_wall:.2f} s")
    print(f"  sent / failed:             {stats.sent:,} / {stats.failed:,}")
    print(f"  achieved: {achieved / summed:.1%} of the summed limit ({achieved:.1f}/s of {summed:g}/s)")
    print(
        f"  per workspace:             {rates[0]:.2f} to {rates[-1]:.2f}/s (limit {options.limit:g}/s)"
        if rates
        else "  per workspace:             -"
    )
    print(
        f"  429s from the simulator:   {sum(refused.values())}"
        + (f" (in {len(refused)} workspaces, at most {max(refused.values())} in one)" if refused else "")
    )
    print(f"  lost:                      {lost}")
    print(f"  duplicates:                {duplicates}")
    print(
        f"  CPU per delivery:          {cpu * 1000 / max(stats.sent, 1):.3f} ms (all replicas; materialiser "
        f"{materialise_cpu * 1000 / max(deliveries, 1):.3f} ms)"
    )
    for index, f in enumerate(figures):
        print(
            f"  replica {index}:                 {f['sent']:,} sent, {f['failed']} failed, {f['unrecorded']} "
            f"unrecorded, {f['sent'] / f['wall']:.1f}/s, CPU {f['cpu'] * 1000 / max(f['sent'], 1):.3f} ms/delivery"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument(
        "--limit",
        type=float,
        help="the simulator's chat.postMessage limit per second and workspace (default 200 for one workspace, "
        "4 per workspace with --workspaces)",
    )
    parser.add_argument("--headroom", type=float, default=0.98, help="worker pace as a share of the limit")
    parser.add_argument(
        "--in-flight",
        type=int,
        help="deliveries claimed and not yet recorded per replica (VIPBOT_OUTREACH_IN_FLIGHT; default 32, "
        "with --workspaces at least two per workspace)",
    )
    parser.add_argument("--database", help="a database URL instead of a fresh SQLite file")
    parser.add_argument(
        "--no-sdk-429-retries",
        dest="sdk_429_retries",
        action="store_false",
        help="take slack-sdk's 429 retry handler out of the gateway's client (the worker then pauses on Retry-After)",
    )
    parser.add_argument(
        "--burst",
        type=int,
        default=2,
        help="calls the simulator's token bucket saves up (1: the simulator's own strict spacing)",
    )
    parser.add_argument("--give-up", type=float, default=1800, help="stop a run after this many seconds")
    parser.add_argument(
        "--pacer",
        choices=["auto", "shared", "local"],
        default="auto",
        help="shared: send slots reserved in the database; local: the in-process pacer; auto (as vipbot serve): "
        "shared on PostgreSQL, local on SQLite",
    )
    parser.add_argument(
        "--workspaces",
        type=int,
        default=1,
        help="more than 1: one organisation per workspace, each its own limit (--limit is then per workspace)",
    )
    parser.add_argument("--users-per-workspace", type=int, default=200)
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="outbox workers in separate processes on one database (>1 needs PostgreSQL: --database, or an "
        "embedded server is started)",
    )
    args = parser.parse_args()
    limit = args.limit if args.limit is not None else (4.0 if args.workspaces > 1 else 200.0)
    in_flight = args.in_flight if args.in_flight is not None else max(32, 2 * args.workspaces)
    options = Options(
        args.users,
        limit,
        args.headroom,
        in_flight,
        args.database,
        args.sdk_429_retries,
        args.burst,
        args.give_up,
        args.pacer == "shared"
        or (args.pacer == "auto" and (args.replicas > 1 or str(args.database or "").startswith("postgres"))),
    )
    if args.workspaces > 1:
        asyncio.run(run_many(options, args.workspaces, args.users_per_workspace, args.replicas))
    else:
        asyncio.run(run(options))


if __name__ == "__main__":
    main()

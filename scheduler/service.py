"""The outreach feature inside `vipbot serve`: the .ics route, the session calendar for the Home tab (the session
buttons on Slack and Teams are wired by the composition root), and — when VIPBOT_SCHEDULER is on — the triggers
and the outbox worker.

APScheduler only wakes the materialiser at fire times; its jobs are rebuilt from the database at start and
re-synchronised every VIPBOT_OUTREACH_SYNC seconds (schedules added with the CLI in another process show up
then). There is no APScheduler job store: the database is the source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.domain.digest import DigestPosts
from bot.domain.outreach import What
from bot.domain.team_sessions import ICS_PATH, session_ics
from bot.domain.tenancy import Platform
from bot.logs import get_logger, log_failure
from bot.periodic import STOP_GRACE_SECONDS
from bot.security.secret import Secret
from bot.settings import Settings
from bot.storage.db import session_factory
from bot.storage.outbox import SqlOutbox
from bot.storage.rate_budget import SqlRateBudget
from bot.storage.schedules import SqlMemberDirectory, SqlScheduleRepository
from bot.storage.team_sessions import SqlTeamSessionStore
from bot.wiring import Services
from scheduler.budget import SharedPacers
from scheduler.materialiser import Materialiser
from scheduler.posts import OutreachPosts
from scheduler.triggers import ScheduleTrigger
from scheduler.worker import OutboxWorker, PlatformDelivery, WorkerConfig

log = get_logger(__name__)


def master_key(settings: Settings) -> Secret[bytes]:
    key = settings.secret_key
    if key is None:
        # `vipbot serve` always has one (generated for the embedded default); the CLI may run without it.
        return Secret(b"\0" * 32)
    return Secret(key.get_secret_value().encode("utf-8"))


def worker_config(settings: Settings) -> WorkerConfig:
    return WorkerConfig(
        rate_per_second=settings.outreach_rate,
        in_flight=settings.outreach_in_flight,
        lease=timedelta(seconds=settings.outreach_lease_seconds),
        max_attempts=settings.outreach_max_attempts,
    )


@dataclass
class Outreach:
    services: Services
    schedules: SqlScheduleRepository
    outbox: SqlOutbox
    members: SqlMemberDirectory
    team_sessions: SqlTeamSessionStore
    posts: OutreachPosts
    materialiser: Materialiser
    # Tests may deliver through their own pairs instead of the platform registries.
    deliveries: Mapping[Platform, PlatformDelivery] | None = field(default=None)

    def platforms(self) -> Mapping[Platform, PlatformDelivery]:
        """The platforms this process can deliver to, looked up when needed (adapters start their clients late)."""
        if self.deliveries is not None:
            return self.deliveries
        return {
            platform: PlatformDelivery(registry.renderers, registry.gateway)
            for platform, registry in self.services.platforms.items()
            if registry.gateway is not None
        }

    def worker(self, config: WorkerConfig | None = None, worker_id: str | None = None) -> OutboxWorker:
        config = config or worker_config(self.services.settings)
        return OutboxWorker(
            self.outbox,
            self.platforms,
            self.posts,
            self.services.clock,
            members=self.members,
            config=config,
            worker_id=worker_id,
            # On PostgreSQL (replicas) each workspace's budget lives in the database, so every replica's sends
            # together keep to the rate; SQLite serves one process, whose own pacer is the whole budget.
            pacers=SharedPacers(SqlRateBudget(self.services.engine), config.rate_per_second)
            if self.services.engine.dialect.name == "postgresql"
            else None,
        )


def outreach_of(services: Services) -> Outreach:
    """The process's one Outreach: made on first use and kept on `services.outreach`."""
    outreach = services.outreach
    if not isinstance(outreach, Outreach):
        outreach = build_outreach(services)
        services.outreach = outreach
    return outreach


def build_outreach(services: Services) -> Outreach:
    settings = services.settings
    sessions = session_factory(services.engine)
    schedules = SqlScheduleRepository(sessions)
    outbox = SqlOutbox(services.engine)
    members = SqlMemberDirectory(sessions)
    store = SqlTeamSessionStore(sessions, master_key(settings))
    posts = OutreachPosts(
        services.content, services.organisations, store, settings.public_portal_url, settings.public_base_url
    )
    digests = DigestPosts(
        outbox, services.content.catalog, services.organisations, settings.public_portal_url
    )
    posts.register(What.DIGEST, digests)
    materialiser = Materialiser(
        schedules,
        outbox,
        services.organisations,
        members,
        services.content,
        services.clock,
        member_sources=services.member_sources(),
        pace=settings.outreach_rate,
    )
    return Outreach(services, schedules, outbox, members, store, posts, materialiser)


class OutreachRunner:
    """Triggers (APScheduler, rebuilt from the database) and one outbox worker, started and stopped with the app."""

    def __init__(self, outreach: Outreach, sync_seconds: float, worker: OutboxWorker | None = None) -> None:
        self.outreach = outreach
        self.sync_seconds = sync_seconds
        self.worker = worker or outreach.worker()
        self.scheduler: AsyncIOScheduler | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._jobs: dict[str, tuple[Any, ...]] = {}
        self._running: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.scheduler.add_job(
            self.sync,
            IntervalTrigger(seconds=self.sync_seconds, timezone=UTC),
            id="outreach-sync",
            next_run_time=datetime.now(UTC),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        self.scheduler.start()
        self._task = asyncio.create_task(self.worker.run(self._stop), name="outreach-worker")
        log.info("outreach scheduler started", worker=self.worker.worker_id)

    async def stop(self) -> None:
        if self.scheduler is not None:
            # A job running now (a sync, a schedule firing) finishes first: shutting down cancels it, and
            # apscheduler logs the cancellation as a failed job with its traceback at every ordinary stop.
            self.scheduler.pause()
            if self._running:
                await asyncio.wait(set(self._running), timeout=STOP_GRACE_SECONDS)
            self.scheduler.shutdown(wait=False)
        self._stop.set()
        if self._task is not None:
            await self._task

    @contextlib.contextmanager
    def _job(self) -> Iterator[None]:
        """Around a job's body: `stop` waits for the jobs running now."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._running.discard(task)

    async def sync(self) -> None:
        """Bring the trigger jobs in line with the database, then materialise whatever is due (catch-up)."""
        with self._job():
            await self._sync()

    async def _sync(self) -> None:
        assert self.scheduler is not None  # noqa: S101  (only called while running)
        try:
            rows = await self.outreach.schedules.all_enabled()
            wanted: dict[str, tuple[Any, ...]] = {}
            for row, timezone, _locale in rows:
                wanted[str(row.id)] = (
                    row.recurrence,
                    row.timezone or timezone,
                    row.anchor,
                    row.grace_minutes,
                )
            for job_id in set(self._jobs) - set(wanted):
                self.scheduler.remove_job(job_id)
                del self._jobs[job_id]
            for job_id, spec in wanted.items():
                if self._jobs.get(job_id) == spec:
                    continue
                recurrence, timezone, anchor, grace = spec
                from bot.domain.recurrence import parse_recurrence

                trigger = ScheduleTrigger(
                    parse_recurrence(recurrence), timezone, datetime.fromisoformat(anchor).date()
                )
                self.scheduler.add_job(
                    self.fire,
                    trigger,
                    args=[UUID(job_id)],
                    id=job_id,
                    replace_existing=True,
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=int(grace) * 60,
                )
                self._jobs[job_id] = spec
            await self.outreach.materialiser.run_all()
            self.worker.wake()
        except Exception:
            log_failure(log, "outreach sync failed; trying again at the next interval")

    async def fire(self, schedule_id: UUID) -> None:
        with self._job():
            try:
                await self.outreach.materialiser.run_by_id(schedule_id)
            except Exception:
                log_failure(
                    log, "outreach occurrence could not be materialised", schedule_id=str(schedule_id)
                )
            self.worker.wake()


RUNNER = web.AppKey("outreach_runner", OutreachRunner)


def ics_handler(store: SqlTeamSessionStore, services: Services) -> Any:
    async def handle(request: web.Request) -> web.Response:
        try:
            session_id = UUID(request.match_info["session_id"])
        except ValueError:
            raise web.HTTPNotFound from None
        session = await store.find(session_id)
        if session is None:
            raise web.HTTPNotFound
        host = services.settings.public_base_url.split("://", 1)[-1].split("/", 1)[0]
        body = session_ics(session, host=host, stamp=services.clock.now())
        return web.Response(
            body=body,
            content_type="text/calendar",
            charset="utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="vipbot-session.ics"',
                "Cache-Control": "no-store",
            },
        )

    return handle


def install(app: web.Application, services: Services) -> None:
    outreach = outreach_of(services)
    services.session_calendar = outreach.team_sessions
    app.router.add_get(ICS_PATH, ics_handler(outreach.team_sessions, services))
    if not services.settings.scheduler_enabled:
        log.info("outreach scheduler is off (VIPBOT_SCHEDULER=false): nothing is sent from this process")
        return

    async def start(app: web.Application) -> None:
        runner = OutreachRunner(outreach, services.settings.outreach_sync_seconds)
        app[RUNNER] = runner
        await runner.start()

    async def stop(app: web.Application) -> None:
        runner = app.get(RUNNER)
        if runner is not None:
            await runner.stop()

    app.on_startup.append(start)
    app.on_cleanup.insert(0, stop)

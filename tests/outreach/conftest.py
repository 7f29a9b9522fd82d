"""Fixtures for the outreach tests: an organisation with groups, channels and members; the pipeline on fakes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.app import Services
from bot.domain.delivery import Target, TargetKind
from bot.domain.outreach import What
from bot.domain.recurrence import OutreachCalendar
from bot.domain.tenancy import GroupKind, Organisation, Platform
from bot.security.secret import Secret
from bot.storage.db import session_factory
from bot.storage.outbox import SqlOutbox
from bot.storage.schedules import SqlMemberDirectory, SqlScheduleRepository
from bot.storage.team_sessions import SqlTeamSessionStore
from scheduler.materialiser import Materialiser
from scheduler.posts import OutreachPosts
from scheduler.worker import OutboxWorker, PlatformDelivery, WorkerConfig
from tests.doubles.bf_connector import bf_connector
from tests.doubles.slack_api import slack_api
from tests.outreach.fakes import FakeGateway, FakeRenderer

__all__ = ["bf_connector", "slack_api"]

SLACK_TEAM = "T0001"
TENANT = "tenant-1"


@dataclass
class Pipeline:
    services: Services
    org: Organisation
    schedules: SqlScheduleRepository
    outbox: SqlOutbox
    members: SqlMemberDirectory
    team_sessions: SqlTeamSessionStore
    materialiser: Materialiser
    posts: OutreachPosts
    slack: FakeGateway
    teams: FakeGateway

    def worker(
        self,
        config: WorkerConfig | None = None,
        worker_id: str | None = None,
        outbox: SqlOutbox | None = None,
    ) -> OutboxWorker:
        platforms = {
            Platform.SLACK: PlatformDelivery(FakeRenderer(Platform.SLACK), self.slack),
            Platform.TEAMS: PlatformDelivery(FakeRenderer(Platform.TEAMS), self.teams),
        }
        return OutboxWorker(
            outbox or self.outbox,
            platforms,
            self.posts,
            self.services.clock,
            members=self.members,
            config=config or WorkerConfig(rate_per_second=1000, backoff_base=0.01, poll_interval=0.05),
            worker_id=worker_id,
        )


@pytest.fixture
async def pipeline(services: Services) -> Pipeline:
    orgs = services.organisations
    org = await orgs.add_organisation("Zorggroep De Linde", "linde", "Europe/Amsterdam", "nl", 90)
    await orgs.add_group(org.id, "Zorg", GroupKind.DEPARTMENT, None)
    await orgs.add_group(org.id, "Team Noord", GroupKind.TEAM, "zorg")
    await orgs.bind_channel(org.id, "linde", Platform.SLACK, SLACK_TEAM, "C-ALL", "algemeen")
    await orgs.bind_channel(org.id, "zorg", Platform.TEAMS, TENANT, "19:zorg@thread", "Zorg")
    await orgs.bind_channel(org.id, "team-noord", Platform.SLACK, SLACK_TEAM, "C-NOORD", "noord")
    engine = services.engine
    sessions = session_factory(engine)
    schedules = SqlScheduleRepository(sessions)
    members = SqlMemberDirectory(sessions)
    outbox = SqlOutbox(engine)
    for i in range(3):
        await members.register(org.id, Target(Platform.SLACK, SLACK_TEAM, TargetKind.PERSON, f"U{i:04d}"))
    await members.register(org.id, Target(Platform.TEAMS, TENANT, TargetKind.PERSON, "a:teams-person"), "en")
    # No quiet hours or weekend rules unless a test sets them.
    from datetime import time

    await schedules.set_calendar(org.id, OutreachCalendar(time(0, 0), time(0, 0), skip_weekends=False))
    master = Secret(b"k" * 32)
    store = SqlTeamSessionStore(sessions, master)
    posts = OutreachPosts(
        services.content, orgs, store, "https://portal.example", services.settings.public_base_url
    )
    materialiser = Materialiser(schedules, outbox, orgs, members, services.content, services.clock)
    return Pipeline(
        services,
        org,
        schedules,
        outbox,
        members,
        store,
        materialiser,
        posts,
        FakeGateway(Platform.SLACK),
        FakeGateway(Platform.TEAMS),
    )


WHAT = What

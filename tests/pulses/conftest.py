"""Fixtures for pulse tests: an organisation with a department of teams, the pulse service and its store."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.catalog import ContentLibrary
from bot.domain.clock import FixedClock
from bot.domain.content import PulseSet
from bot.domain.pulses import PulseService
from bot.domain.tenancy import GroupKind, GroupTree, Organisation, Platform
from bot.storage.db import session_factory
from bot.storage.organisations import SqlOrganisationRepository
from bot.storage.pulses import SqlPulseStore, master_key_from
from tests.conftest import TEST_SECRET_KEY
from tests.doubles.bf_connector import bf_connector
from tests.doubles.slack_api import slack_api

__all__ = ["bf_connector", "slack_api"]


@dataclass
class PulseWorld:
    org: Organisation
    tree: GroupTree
    store: SqlPulseStore
    service: PulseService
    pulse_set: PulseSet
    repo: SqlOrganisationRepository


async def make_world(
    engine: AsyncEngine, content: ContentLibrary, clock: FixedClock, slug: str, teams: dict[str, int]
) -> PulseWorld:
    repo = SqlOrganisationRepository(session_factory(engine))
    org = await repo.add_organisation(f"Organisatie {slug}", slug, "Europe/Amsterdam", "nl", 90)
    await repo.add_group(org.id, f"Zorg {slug}", GroupKind.DEPARTMENT, None)
    for team in teams:
        added = await repo.add_group(org.id, team, GroupKind.TEAM, f"zorg-{slug}")
        await repo.bind_channel(org.id, added.slug, Platform.SLACK, "T0WORKSPACE", f"C-{added.slug}", team)
    store = SqlPulseStore(engine, master_key_from(TEST_SECRET_KEY))
    pulse_set = content.catalog.pulse_set("wekelijkse-check-in")
    assert pulse_set is not None
    service = PulseService(store, content.catalog.pulse_sets, clock)
    return PulseWorld(org, await repo.group_tree(org.id), store, service, pulse_set, repo)


@pytest.fixture
def checkin(content: ContentLibrary) -> PulseSet:
    """The bundled weekly check-in."""
    found = content.catalog.pulse_set("wekelijkse-check-in")
    assert found is not None
    return found


@pytest.fixture
async def world(engine: AsyncEngine, content: ContentLibrary, clock: FixedClock) -> PulseWorld:
    return await make_world(engine, content, clock, "linde", {"Team Noord": 6, "Team Zuid": 9})

"""Planning a team session: one use case for the CLI and the console, with the same refusals (codes)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.app import Services
from bot.domain.outreach import Audience
from bot.domain.tenancy import GroupKind, Platform
from bot.usecases.team_sessions import SessionDraft, SessionProblem, SessionRefusedError, TeamSessions
from scheduler.service import outreach_of


async def test_refusals_carry_codes_and_store_nothing(services: Services) -> None:
    org = await services.organisations.add_organisation("De Linde", "linde", "Europe/Amsterdam", "nl", 90)
    await services.organisations.add_group(org.id, "Zorg", GroupKind.DEPARTMENT, None)
    outreach = outreach_of(services)
    sessions = TeamSessions(outreach, services.clock)
    now = services.clock.now()
    draft = SessionDraft(
        title="Intervisie",
        description="",
        starts_at=now + timedelta(days=3),
        ends_at=now + timedelta(days=3, hours=1),
        place="Kantine",
        online_url=None,
        audience=Audience(groups=("zorg",)),
    )

    def refused(problem: SessionProblem) -> pytest.RaisesExc[SessionRefusedError]:
        return pytest.raises(SessionRefusedError, check=lambda e: e.problem is problem)

    with refused(SessionProblem.IN_PAST):
        await sessions.plan(org, replace(draft, starts_at=now - timedelta(hours=1)))
    with refused(SessionProblem.INVALID):
        await sessions.plan(org, replace(draft, ends_at=draft.starts_at - timedelta(hours=1)))
    with refused(SessionProblem.NO_AUDIENCE):  # the group has no channel bound yet
        await sessions.plan(org, draft)
    with refused(SessionProblem.NO_AUDIENCE):
        await sessions.plan(org, replace(draft, audience=Audience(groups=("nergens",))))
    assert await sessions.listing(org, past_too=True) == []

    await services.organisations.bind_channel(org.id, "zorg", Platform.SLACK, "T1", "C1", "zorg")
    planned = await sessions.plan(org, draft)
    assert planned.announced == 1
    assert planned.reminder_at is not None
    assert planned.reminded == 1
    cancelled = await sessions.cancel(org, planned.session.id)
    assert cancelled.cancelled
    with refused(SessionProblem.NOT_FOUND):
        await sessions.cancel(org, org.id)

"""The console's team-session form refuses what the CLI refuses, with the same codes (shown as locale texts)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.tenancy import GroupKind, Organisation
from bot.web.console.outreach_bridge import outreach_of
from tests.console.helpers import form_token, make_person, sign_in


async def test_a_session_nobody_can_be_told_about_is_refused_and_not_stored(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    await console_services.organisations.add_group(org_a.id, "Zorg", GroupKind.DEPARTMENT, None)  # no channel
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)

    async def plan(**fields: str) -> tuple[int, str]:
        token = await form_token(client, "/console/o/de-linde/sessions")
        data = {
            "csrf_token": token,
            "title": "Intervisie",
            "start": "14:00",
            "end": "15:00",
            "place": "Kantine",
        }
        response = await client.post("/console/o/de-linde/sessions", data={**data, **fields})
        return response.status, await response.text()

    status, page = await plan(day="2026-03-12", groups="zorg")
    assert status == 400
    assert "Niemand in dit publiek is te bereiken" in page
    status, page = await plan(day="2026-03-01", groups="zorg")  # the clock says 2 March
    assert status == 400
    assert "Deze sessie ligt in het verleden." in page
    status, page = await plan(day="2026-03-12", end="13:00", groups="zorg")
    assert status == 400
    assert "Deze sessie klopt niet" in page
    assert await outreach_of(console_services).team_sessions.list_sessions(org_a.id) == []

"""The organisation page: groups, channel bindings, connection status, people."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.tenancy import Organisation
from bot.storage.db import transaction
from bot.storage.tables import PlatformConnectionRow
from tests.console.helpers import form_token, make_person, sign_in


async def test_groups_bindings_and_status(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await make_person(console_services, Role.VIEWER, "mt@linde.test", org_a.id)
    async with transaction(console_services.sessions) as session:
        session.add(PlatformConnectionRow(organisation_id=org_a.id, platform="slack", workspace_id="T0LINDE"))
    await sign_in(client, counsellor, clock)
    page = await (await client.get("/console/o/de-linde")).text()
    assert "T0LINDE" in page  # Slack installed
    assert "niet geïnstalleerd" in page  # Teams not
    assert "Mt" in page  # the management viewer is listed
    token = await form_token(client, "/console/o/de-linde")
    for data in (
        {"name": "Zorg", "kind": "department", "parent": ""},
        {"name": "Team Noord", "kind": "team", "parent": "zorg"},
    ):
        added = await client.post(
            "/console/o/de-linde/groups", data={**data, "csrf_token": token}, allow_redirects=False
        )
        assert added.headers["Location"] == "/console/o/de-linde"
    orphan = await client.post(
        "/console/o/de-linde/groups",
        data={"name": "Los team", "kind": "team", "parent": "", "csrf_token": token},
        allow_redirects=False,
    )
    assert orphan.headers["Location"].endswith("?error=group")  # a team belongs under a department
    bound = await client.post(
        "/console/o/de-linde/bindings",
        data={
            "group": "team-noord",
            "platform": "slack",
            "workspace": "T0LINDE",
            "channel": "C42",
            "name": "noord",
            "csrf_token": token,
        },
        allow_redirects=False,
    )
    assert bound.headers["Location"] == "/console/o/de-linde"
    tree = await console_services.organisations.group_tree(org_a.id)
    assert {g.slug for g in tree.groups} == {"de-linde", "zorg", "team-noord"}
    assert [b.channel_id for b in await console_services.organisations.bindings(org_a.id)] == ["C42"]
    # one click only asks: the page says what goes with it, and nothing is removed yet
    asked = await client.post(
        "/console/o/de-linde/groups/remove",
        data={"group": "zorg", "csrf_token": token},
        allow_redirects=False,
    )
    assert asked.headers["Location"] == "/console/o/de-linde/groups/remove?group=zorg"
    assert len((await console_services.organisations.group_tree(org_a.id)).groups) == 3
    confirm = await (await client.get(asked.headers["Location"])).text()
    assert "Groep &#39;Zorg&#39; verwijderen met alles eronder?" in confirm
    assert "1 groep eronder: Team Noord" in confirm
    assert "1 gekoppeld kanaal (de koppeling, niet het kanaal zelf)" in confirm
    removed = await client.post(
        "/console/o/de-linde/groups/remove",
        data={"group": "zorg", "csrf_token": token, "confirm": "1"},
        allow_redirects=False,
    )
    assert removed.headers["Location"] == "/console/o/de-linde"
    tree = await console_services.organisations.group_tree(org_a.id)
    assert {g.slug for g in tree.groups} == {"de-linde"}
    assert await console_services.organisations.bindings(org_a.id) == []
    root = await client.post(
        "/console/o/de-linde/groups/remove",
        data={"group": "de-linde", "csrf_token": token},
        allow_redirects=False,
    )
    assert root.headers["Location"].endswith("?error=group")

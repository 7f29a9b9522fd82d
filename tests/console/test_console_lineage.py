"""The console's group page restructures without remove + add: rename, move, merge and split keep lineage."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.tenancy import GroupKind, Organisation
from bot.storage.pulses import SqlPulseStore, master_key_from
from tests.console.helpers import form_token, make_person, sign_in


async def test_restructuring_from_the_group_page_keeps_each_group_s_identity(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    repo = console_services.organisations
    await repo.add_group(org_a.id, "Zorg", GroupKind.DEPARTMENT, None)
    await repo.add_group(org_a.id, "Facilitair", GroupKind.DEPARTMENT, None)
    noord = await repo.add_group(org_a.id, "Team Noord", GroupKind.TEAM, "zorg")
    zuid = await repo.add_group(org_a.id, "Team Zuid", GroupKind.TEAM, "zorg")
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)
    page = "/console/o/de-linde"

    async def restructure(group: str, operation: str, target: str) -> str:
        token = await form_token(client, page)
        response = await client.post(
            f"{page}/groups/restructure",
            data={"csrf_token": token, "group": group, "operation": operation, "target": target},
            allow_redirects=False,
        )
        assert response.status == 303
        return response.headers["Location"]

    assert "error" not in await restructure("team-noord", "rename", "Team Noordoost")
    assert "error" not in await restructure("team-noordoost", "move", "facilitair")
    tree = await repo.group_tree(org_a.id)
    moved = tree.by_slug("team-noordoost")
    assert moved is not None
    assert moved.id == noord.id  # the same group, renamed and moved
    assert moved.parent_id == tree.by_slug("facilitair").id  # type: ignore[union-attr]
    assert "error" not in await restructure("team-zuid", "split", "Team West")
    assert "error" not in await restructure("team-west", "merge", "team-zuid")
    assert "error=group" in await restructure("team-zuid", "merge", "facilitair")  # a team into a department
    secret = console_services.settings.secret_key
    assert secret is not None
    store = SqlPulseStore(console_services.engine, master_key_from(secret.get_secret_value()))
    successors = await store.successors(org_a.id)
    assert list(successors.values()) == [zuid.id]

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.tenancy import GroupKind, Platform, slugify
from bot.errors import ConflictError, NotFoundError
from bot.storage.db import session_factory
from bot.storage.organisations import SqlOrganisationRepository


@pytest.fixture
def repo(engine: AsyncEngine) -> SqlOrganisationRepository:
    return SqlOrganisationRepository(session_factory(engine))


async def test_group_tree_follows_organisation_department_team(repo: SqlOrganisationRepository) -> None:
    org = await repo.add_organisation("Gemeente Oost", "oost", "Europe/Amsterdam", "nl", 90)
    dept = await repo.add_group(org.id, "Sociaal Domein", GroupKind.DEPARTMENT, None)
    team = await repo.add_group(org.id, "Team Jeugd", GroupKind.TEAM, dept.slug)
    tree = await repo.group_tree(org.id)
    assert tree.root.kind is GroupKind.ORGANISATION
    assert [g.slug for g in tree.ancestors(team.id)] == ["sociaal-domein", "oost"]
    assert {g.slug for g in tree.descendants(tree.root.id)} == {"sociaal-domein", "team-jeugd"}
    with pytest.raises(ConflictError):
        await repo.add_group(org.id, "Los team", GroupKind.TEAM, None)
    with pytest.raises(ConflictError):
        await repo.add_group(org.id, "Team Jeugd", GroupKind.TEAM, dept.slug)


async def test_removing_a_department_removes_its_teams_and_bindings(repo: SqlOrganisationRepository) -> None:
    org = await repo.add_organisation("Gemeente Oost", "oost", "Europe/Amsterdam", "nl", 90)
    await repo.add_group(org.id, "Sociaal Domein", GroupKind.DEPARTMENT, None)
    await repo.add_group(org.id, "Team Jeugd", GroupKind.TEAM, "sociaal-domein")
    await repo.bind_channel(org.id, "team-jeugd", Platform.SLACK, "T1", "C1", "jeugd")
    await repo.remove_group(org.id, "sociaal-domein")
    tree = await repo.group_tree(org.id)
    assert [g.slug for g in tree.groups] == ["oost"]
    assert await repo.bindings(org.id) == []
    with pytest.raises(ConflictError):
        await repo.remove_group(org.id, "oost")


async def test_one_organisation_never_sees_another(repo: SqlOrganisationRepository) -> None:
    a = await repo.add_organisation("Alfa", "alfa", "Europe/Amsterdam", "nl", 90)
    b = await repo.add_organisation("Beta", "beta", "Europe/Brussels", "en", 30)
    await repo.add_group(a.id, "Financiën", GroupKind.DEPARTMENT, None)
    await repo.bind_channel(a.id, "financien", Platform.SLACK, "T1", "C1", None)
    assert [g.slug for g in (await repo.group_tree(b.id)).groups] == ["beta"]
    assert await repo.bindings(b.id) == []
    with pytest.raises(NotFoundError):
        await repo.add_group(b.id, "Team", GroupKind.TEAM, "financien")
    with pytest.raises(NotFoundError):
        await repo.unbind_channel(b.id, Platform.SLACK, "C1")
    with pytest.raises(ConflictError):
        await repo.bind_channel(b.id, "beta", Platform.SLACK, "T1", "C1", None)
    assert len(await repo.bindings(a.id)) == 1


async def test_organisation_handles_are_unique(repo: SqlOrganisationRepository) -> None:
    await repo.add_organisation("Alfa", "alfa", "Europe/Amsterdam", "nl", 90)
    with pytest.raises(ConflictError):
        await repo.add_organisation("Alfa BV", "alfa", "Europe/Amsterdam", "nl", 90)
    with pytest.raises(NotFoundError):
        await repo.get_organisation("gamma")


def test_slugify_makes_ascii_handles() -> None:
    assert slugify("Financiën & Control") == "financien-control"
    assert slugify("  ") == "item"

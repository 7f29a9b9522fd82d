from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import build_parser
from bot.cli.context import CliContext
from bot.errors import ConflictError, NotFoundError
from bot.storage.db import create_engine, session_factory
from bot.storage.organisations import SqlOrganisationRepository

# Every test here runs the commands on a migrated database (the `engine` fixture makes `database_url` one).
pytestmark = pytest.mark.usefixtures("engine")


async def _run(
    argv: list[str], database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    args = build_parser().parse_args(argv)
    ctx = CliContext(
        environ={"VIPBOT_DATABASE_URL": database_url, "VIPBOT_DATA_DIR": str(tmp_path)}, dotenv=None
    )
    code = await args.handler(args, ctx)
    return code, capsys.readouterr().out


async def _bound_channels(database_url: str, org_slug: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        repo = SqlOrganisationRepository(session_factory(engine))
        org = await repo.get_organisation(org_slug)
        return {b.channel_id for b in await repo.bindings(org.id)}
    finally:
        await engine.dispose()


async def _linde_with_two_departments(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Linde: Zorg Noord (team Wijk 3 on C3, itself on C1) and Zorg Zuid (on C2)."""
    for argv in (
        ["org", "add", "Zorggroep De Linde", "--slug", "linde"],
        ["org", "group", "add", "linde", "Zorg Noord", "--kind", "department"],
        ["org", "group", "add", "linde", "Wijk 3", "--kind", "team", "--parent", "zorg-noord"],
        ["org", "group", "add", "linde", "Zorg Zuid", "--kind", "department"],
        ["org", "bind", "linde", "zorg-noord", "--platform", "slack", "--workspace", "T1", "--channel", "C1"],
        ["org", "bind", "linde", "zorg-zuid", "--platform", "slack", "--workspace", "T1", "--channel", "C2"],
        ["org", "bind", "linde", "wijk-3", "--platform", "slack", "--workspace", "T1", "--channel", "C3"],
    ):
        code, _ = await _run(argv, database_url, tmp_path, capsys)
        assert code == 0, argv


async def test_org_commands_build_a_tree(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        await _run(["org", "add", "Zorggroep De Linde", "--slug", "linde"], database_url, tmp_path, capsys)
    )[0] == 0
    await _run(
        ["org", "group", "add", "linde", "Zorg Noord", "--kind", "department"], database_url, tmp_path, capsys
    )
    await _run(
        ["org", "group", "add", "linde", "Wijk 3", "--kind", "team", "--parent", "zorg-noord"],
        database_url,
        tmp_path,
        capsys,
    )
    await _run(
        [
            "org",
            "bind",
            "linde",
            "wijk-3",
            "--platform",
            "slack",
            "--workspace",
            "T1",
            "--channel",
            "C9",
            "--name",
            "wijk3",
        ],
        database_url,
        tmp_path,
        capsys,
    )
    code, out = await _run(["org", "show", "linde"], database_url, tmp_path, capsys)
    assert code == 0
    assert out.splitlines() == [
        "Zorggroep De Linde [organisation: linde]",
        "  Zorg Noord [department: zorg-noord]",
        "    Wijk 3 [team: wijk-3]  → slack:wijk3",
    ]
    code, out = await _run(["org", "list"], database_url, tmp_path, capsys)
    assert out.startswith("linde")
    assert "retention 90 days)" in out
    await _run(["org", "add", "Kleine Zaak", "--retention-days", "1"], database_url, tmp_path, capsys)
    code, out = await _run(["org", "list"], database_url, tmp_path, capsys)
    assert "retention 1 day)" in out  # not "1 days"


async def test_org_group_list_shows_the_groups_with_their_channels(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _linde_with_two_departments(database_url, tmp_path, capsys)
    code, out = await _run(["org", "group", "list", "linde"], database_url, tmp_path, capsys)
    assert code == 0
    assert out.splitlines() == [
        "Zorggroep De Linde [organisation: linde]",
        "  Zorg Noord [department: zorg-noord]  → slack:C1",
        "    Wijk 3 [team: wijk-3]  → slack:C3",
        "  Zorg Zuid [department: zorg-zuid]  → slack:C2",
    ]
    with pytest.raises(NotFoundError):
        await _run(["org", "group", "list", "nobody"], database_url, tmp_path, capsys)


async def test_org_group_remove_takes_the_group_its_teams_and_their_bindings(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _linde_with_two_departments(database_url, tmp_path, capsys)
    code, out = await _run(["org", "group", "remove", "linde", "zorg-noord"], database_url, tmp_path, capsys)
    assert code == 0
    assert "zorg-noord" in out
    _, shown = await _run(["org", "show", "linde"], database_url, tmp_path, capsys)
    assert shown.splitlines() == [
        "Zorggroep De Linde [organisation: linde]",
        "  Zorg Zuid [department: zorg-zuid]  → slack:C2",
    ]
    assert await _bound_channels(database_url, "linde") == {"C2"}
    with pytest.raises(NotFoundError):
        await _run(["org", "group", "remove", "linde", "wijk-3"], database_url, tmp_path, capsys)
    with pytest.raises(ConflictError):
        await _run(["org", "group", "remove", "linde", "linde"], database_url, tmp_path, capsys)
    assert await _bound_channels(database_url, "linde") == {"C2"}


async def test_org_unbind_removes_that_binding_only(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _linde_with_two_departments(database_url, tmp_path, capsys)
    code, out = await _run(
        ["org", "unbind", "linde", "--platform", "slack", "--channel", "C1"], database_url, tmp_path, capsys
    )
    assert code == 0
    assert "C1" in out
    assert await _bound_channels(database_url, "linde") == {"C2", "C3"}
    _, shown = await _run(["org", "group", "list", "linde"], database_url, tmp_path, capsys)
    assert "  Zorg Noord [department: zorg-noord]" in shown.splitlines()  # the group stays, unbound
    with pytest.raises(NotFoundError):
        await _run(
            ["org", "unbind", "linde", "--platform", "slack", "--channel", "C1"],
            database_url,
            tmp_path,
            capsys,
        )
    with pytest.raises(NotFoundError):  # same channel id on the other platform: not bound there
        await _run(
            ["org", "unbind", "linde", "--platform", "teams", "--channel", "C2"],
            database_url,
            tmp_path,
            capsys,
        )
    assert await _bound_channels(database_url, "linde") == {"C2", "C3"}

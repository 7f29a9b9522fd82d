from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import build_parser
from bot.cli.context import CliContext


async def _run(
    argv: list[str], database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    args = build_parser().parse_args(argv)
    ctx = CliContext(
        environ={"VIPBOT_DATABASE_URL": database_url, "VIPBOT_DATA_DIR": str(tmp_path)}, dotenv=None
    )
    code = await args.handler(args, ctx)
    return code, capsys.readouterr().out


async def test_org_commands_build_a_tree(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.storage.db import create_engine
    from bot.storage.migrate import upgrade

    engine = create_engine(database_url)
    await upgrade(engine)
    await engine.dispose()
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


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    for argv in (
        ["serve"],
        ["db", "upgrade"],
        ["content", "check"],
        ["org", "add"],
        ["org", "list"],
        ["org", "group", "add"],
        ["org", "bind"],
    ):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args([*argv, "--help"])
        assert exited.value.code == 0
        assert "usage: vipbot" in capsys.readouterr().out

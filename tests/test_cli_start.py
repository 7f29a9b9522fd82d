"""`vipbot` loads what a command needs when that command runs: `--help` and a bad setting load none of the service.

An operator's `vipbot --help` or a start refused for a bad setting should answer in a fraction of a second, not
after loading Slack, Teams, the database layer, the scheduler and the PDF renderer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.process import vipbot_env

# Loaded by the service and by commands that talk to a platform or the database; never by `--help`.
SERVICE_MODULES = (
    "aiohttp",
    "alembic",
    "fpdf",
    "holidays",
    "icalendar",
    "matplotlib",
    "microsoft_agents",
    "opendp",
    "pywebpush",
    "slack_bolt",
    "slack_sdk",
    "bot.app",
    "bot.storage.metadata",
    "scheduler.service",
    # The settings check a database URL with SQLAlchemy's parser, but only when one is given.
    "sqlalchemy",
    "sqlmodel",
)
NOT_FOR_HELP = (*SERVICE_MODULES, "pydantic", "bot.settings")

_PROBE = """
import json, sys
from bot.__main__ import main
try:
    main(["--help"])
except SystemExit as exited:
    help_code = exited.code
after_help = sorted(sys.modules)
code = main(["serve"])
print(json.dumps({"help": help_code, "after_help": after_help, "code": code, "after_error": sorted(sys.modules)}))
"""


def test_help_and_a_bad_setting_load_none_of_the_service(tmp_path: Path) -> None:
    env = vipbot_env(tmp_path / "data", 8080, VIPBOT_PORT="not-a-port")
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.splitlines()[-1])
    assert probe["help"] == 0
    assert "usage: vipbot" in result.stdout
    assert probe["code"] == 2  # the configuration error, as `vipbot serve` reports it
    assert "VIPBOT_PORT" in result.stderr

    def loaded(names: list[str], heavy: tuple[str, ...]) -> list[str]:
        return sorted(h for h in heavy if h in names)

    assert loaded(probe["after_help"], NOT_FOR_HELP) == []
    assert loaded(probe["after_error"], SERVICE_MODULES) == []

"""The `vipbot` command run in-process against a test database, its output captured."""

from __future__ import annotations

import io
from pathlib import Path

from bot.__main__ import build_parser
from bot.cli.context import CliContext
from tests.conftest import TEST_SECRET_KEY


class Cli:
    """`await cli("schedule", "add", …)` returns (exit code, output); a refusal is raised as the error it is."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.environ = {
            "VIPBOT_DATABASE_URL": database_url,
            "VIPBOT_DATA_DIR": str(tmp_path),
            "VIPBOT_SECRET_KEY": TEST_SECRET_KEY,
        }

    async def __call__(self, *argv: str) -> tuple[int, str]:
        args = build_parser().parse_args(list(argv))
        out = io.StringIO()
        ctx = CliContext(environ=self.environ, dotenv=None, out=out)
        code = await args.handler(args, ctx)
        return code, out.getvalue()

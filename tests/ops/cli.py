"""Running a `vipbot` command as a real process and reading what it printed."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.net import free_port
from tests.support.process import vipbot_env


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


async def run_vipbot(
    args: list[str], data_dir: Path, *, stdin: str | None = None, cwd: Path | None = None, **env: str
) -> Outcome:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=vipbot_env(data_dir, free_port(), **env),
        cwd=cwd or data_dir.parent,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), timeout=120)
    assert process.returncode is not None
    return Outcome(process.returncode, out.decode(), err.decode())

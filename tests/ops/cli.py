"""Running a `vipbot` command as a real process and reading what it printed."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
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


def run_vipbot_here(
    args: list[str], data_dir: Path, *, stdin: str | None = None, cwd: Path | None = None, **env: str
) -> Outcome:
    """`vipbot ARGS` through `bot.__main__.main` in this process: the same code path as `run_vipbot` minus the
    interpreter start, for tests of what a command prints and returns (not of the process around it).

    The environment, working folder and standard streams are the command's while it runs and put back after,
    whatever it does. Log lines go to the test's log capture, not to `err`: a test of exactly what a command
    writes to stderr (one line, nothing else) starts a real process with `run_vipbot`.
    """
    from bot.__main__ import main

    saved_environ = dict(os.environ)
    saved_cwd = Path.cwd()
    saved_stdin = sys.stdin
    out, err = io.StringIO(), io.StringIO()
    try:
        for name in list(os.environ):
            if name.startswith(("VIPBOT_", "SLACK_", "MICROSOFT_APP_")):
                del os.environ[name]
        os.environ.update(vipbot_env(data_dir, free_port(), **env))
        os.chdir(cwd or data_dir.parent)
        sys.stdin = io.StringIO(stdin or "")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(args)
            except SystemExit as exited:  # argparse: --help, or arguments it refuses
                # As the interpreter turns it into an exit status: None is 0, a message is 1.
                code = exited.code if isinstance(exited.code, int) else int(exited.code is not None)
    finally:
        sys.stdin = saved_stdin
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
    return Outcome(code, out.getvalue(), err.getvalue())


async def run_vipbot_in_process(
    args: list[str], data_dir: Path, *, stdin: str | None = None, cwd: Path | None = None, **env: str
) -> Outcome:
    """`run_vipbot_here` from a test's event loop: the command runs its own loop in a worker thread, so doubles
    served by the test's loop keep answering it."""
    return await asyncio.to_thread(run_vipbot_here, args, data_dir, stdin=stdin, cwd=cwd, **env)

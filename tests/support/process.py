"""Running `vipbot` as a real process, the way an operator does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from tests.support.net import free_port


def vipbot_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIPBOT_", "SLACK_", "MICROSOFT_APP_"))}
    env.update({"VIPBOT_DATA_DIR": str(data_dir), "VIPBOT_PORT": str(port), "VIPBOT_HOST": "127.0.0.1"})
    # Metrics have their own listener: a free port of its own, so that several services can run side by side.
    env["VIPBOT_METRICS_PORT"] = str(free_port())
    env.update(extra)
    return env


PROJECT_ROOT = Path(__file__).resolve().parents[2]


def start_vipbot(
    args: list[str], env: dict[str, str], cwd: Path, log: IO[bytes], clock: Path | None = None
) -> subprocess.Popen[bytes]:
    """`vipbot ARGS` as its own process; with `clock`, on the clock that file sets (tests/support/clocked.py)."""
    command = [sys.executable, "-m", "bot", *args]
    if clock is not None:
        command = [sys.executable, "-m", "tests.support.clocked", str(clock), *args]
        env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))}
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(timeout=timeout)


def seed_migrated_database(data_dir: Path, template: Path) -> None:
    """The embedded database of `VIPBOT_DATA_DIR=data_dir` as a first start leaves it, copied from the suite's
    migrated template (`sqlite_template`): for a test that is not about migrating."""
    from tests.support.databases import clone_sqlite

    clone_sqlite(template, f"sqlite+aiosqlite:///{data_dir / 'vipbot.db'}")

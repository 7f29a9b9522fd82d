"""Start time of `vipbot` commands: wall and CPU seconds per run, from process start to exit.

Each command imports only what it needs when it runs, so `--help` and a refused start are quick; a command that
reads the database pays for SQLAlchemy and the migration check. Run: `.venv/bin/python bench/bench_cli_start.py`
(`--runs N`, default 5). Figures are medians; the machine's load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS: list[tuple[str, list[str], dict[str, str]]] = [
    ("vipbot --help", ["--help"], {}),
    ("vipbot serve (bad VIPBOT_PORT)", ["serve"], {"VIPBOT_PORT": "not-a-port"}),
    ("vipbot db current", ["db", "current"], {}),
    ("vipbot org list", ["org", "list"], {}),
    ("vipbot admin list", ["admin", "list"], {}),
]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(args: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    cpu, start = children_cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - start, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("VIPBOT_", "SLACK_", "MICROSOFT_APP_"))
        }
        env["VIPBOT_DATA_DIR"] = str(Path(scratch) / "data")
        # A migrated embedded database, as an installed service has.
        subprocess.run(
            [sys.executable, "-m", "bot", "db", "upgrade"],
            env=env,
            cwd=scratch,
            check=True,
            capture_output=True,
        )
        print(f"load average {os.getloadavg()[0]:.1f}; median of {options.runs} runs")
        print(f"{'command':<34} {'wall s':>7} {'CPU s':>7}")
        for label, args, extra in COMMANDS:
            runs = [one_run(args, {**env, **extra}, scratch) for _ in range(options.runs)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            print(f"{label:<34} {wall:7.2f} {cpu:7.2f}")


if __name__ == "__main__":
    main()

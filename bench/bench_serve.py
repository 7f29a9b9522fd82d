"""Start-up and idle footprint of `vipbot serve` on the embedded default (SQLite, bundled content).

Targets: /healthz answers within 2 s of start; idle RSS under 150 MB. Run: `.venv/bin/python bench/bench_serve.py`.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

RUNS = 5
IDLE_SECONDS = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310  (loopback URL we built)
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def one_run(first: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as scratch:
        port = free_port()
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("VIPBOT_", "SLACK_", "MICROSOFT_APP_"))
        }
        env.update(
            {
                "VIPBOT_DATA_DIR": str(Path(scratch) / "data"),
                "VIPBOT_PORT": str(port),
                "VIPBOT_LOG_LEVEL": "WARNING",
            }
        )
        env["VIPBOT_METRICS_PORT"] = str(free_port())  # metrics listen on a port of their own
        if not first:
            # Later runs start on an existing database, as a restart does.
            subprocess.run(
                [sys.executable, "-m", "bot", "db", "upgrade"],
                env=env,
                cwd=scratch,
                check=True,
                capture_output=True,
            )
        url = f"http://127.0.0.1:{port}/healthz"
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            env=env,
            cwd=scratch,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not healthy(url):
                if process.poll() is not None:
                    raise RuntimeError("vipbot serve exited during start-up")
                if time.perf_counter() - started > 30:
                    raise RuntimeError("no /healthz within 30 s")
                time.sleep(0.01)
            ready = time.perf_counter() - started
            time.sleep(IDLE_SECONDS)
            rss = psutil.Process(process.pid).memory_info().rss / 2**20
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        return ready, rss


def main() -> None:
    results = [one_run(first=i == 0) for i in range(RUNS)]
    ready = [r for r, _ in results]
    rss = [m for _, m in results]
    print(f"vipbot serve, embedded SQLite, {RUNS} starts (first on an empty data dir)")
    print(
        f"  /healthz ready after start: median {statistics.median(ready):.2f} s, max {max(ready):.2f} s "
        f"(first start {ready[0]:.2f} s)   target < 2 s"
    )
    print(
        f"  idle RSS after {IDLE_SECONDS} s:       median {statistics.median(rss):.1f} MB, max {max(rss):.1f} MB"
        f"   target < 150 MB"
    )


if __name__ == "__main__":
    main()

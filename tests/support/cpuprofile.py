"""Where the suite's CPU goes: `pytest --profile-cpu=FOLDER` records, per test, the CPU seconds of the worker
process, of the processes it started (finished ones through `RUSAGE_CHILDREN`, running ones such as Chromium,
node or a `vipbot serve` through their own counters) and of this worker's PostgreSQL server, plus the wall time.
Each worker writes one JSON line per test into FOLDER; `python -m tests.support.cpuprofile FOLDER` sums them per
file and per test and prints the largest.

Opt-in and off by default: reading every descendant's counters costs a few milliseconds per test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

# Processes that are not this worker's descendants but work for it (the PostgreSQL server daemonises): their
# whole process tree is counted as the test's children. Filled by the fixtures that start them.
extra_roots: set[int] = set()


def _own_cpu() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, done.ru_utime + done.ru_stime


def _running_cpu() -> dict[tuple[int, float], float]:
    """CPU seconds of every running descendant (and of `extra_roots`' trees), by pid and start time, including
    what their own finished children used."""
    import psutil

    seen: dict[tuple[int, float], float] = {}
    roots = [psutil.Process()]
    for pid in extra_roots:
        try:
            roots.append(psutil.Process(pid))
        except psutil.Error:
            continue
    for root in roots:
        try:
            tree = root.children(recursive=True)
        except psutil.Error:
            continue
        if root.pid != os.getpid():
            tree.append(root)
        for process in tree:
            try:
                t = process.cpu_times()
                started = process.create_time()
            except psutil.Error:
                continue
            seen[process.pid, started] = t.user + t.system + t.children_user + t.children_system
    return seen


class CpuProfile:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self._out = (folder / f"{worker}.jsonl").open("a")
        self._worker = worker

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        wall = time.perf_counter()
        own, done = _own_cpu()
        before = _running_cpu()
        yield
        after = _running_cpu()
        own2, done2 = _own_cpu()
        # A process that ended during the test moved its whole CPU into its parent's `RUSAGE_CHILDREN` (or the
        # parent's own children counters): what it had used before the test is not this test's.
        # (Not when the process's counters were lost with it: Chromium's helpers, say, are not reaped by this
        # worker when the shared browser stops at the end.)
        ended = sum(cpu for key, cpu in before.items() if key not in after)
        running = sum(after.values()) - sum(before.values()) + ended
        if done2 - done >= ended / 2:
            running -= ended
        record = {
            "test": item.nodeid,
            "worker": self._worker,
            "start": time.time(),
            "wall": round(time.perf_counter() - wall, 4),
            "self": round(own2 - own, 4),
            "children": round(done2 - done + running, 4),
        }
        self._out.write(json.dumps(record) + "\n")
        self._out.flush()


def configure(config: pytest.Config) -> None:
    folder = config.getoption("profile_cpu", None)
    if folder:
        config.pluginmanager.register(CpuProfile(Path(folder)), "vipbot-cpuprofile")


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def summarise(folder: Path, top: int) -> None:
    per_file: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0])
    tests: list[tuple[float, str, float, float, float]] = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            r = json.loads(line)
            cpu = r["self"] + r["children"]
            f = per_file[_file_of(r["test"])]
            f[0] += r["self"]
            f[1] += r["children"]
            f[2] += r["wall"]
            f[3] += 1
            tests.append((cpu, r["test"], r["self"], r["children"], r["wall"]))
    total_self = sum(f[0] for f in per_file.values())
    total_children = sum(f[1] for f in per_file.values())
    print(
        f"{len(tests)} tests: {total_self:.0f} s CPU in the workers, {total_children:.0f} s in their processes"
    )
    print(f"\n{'cpu s':>8} {'self':>7} {'procs':>7} {'wall s':>7} {'tests':>5}  file")
    ranked = sorted(per_file.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))
    for name, (own, children, wall, count) in ranked[:top]:
        print(f"{own + children:8.1f} {own:7.1f} {children:7.1f} {wall:7.1f} {int(count):5d}  {name}")
    print(f"\n{'cpu s':>8} {'self':>7} {'procs':>7} {'wall s':>7}  test")
    for cpu, test, own, children, wall in sorted(tests, reverse=True)[:top]:
        print(f"{cpu:8.2f} {own:7.2f} {children:7.2f} {wall:7.2f}  {test}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=summarise.__doc__ or "Sum a --profile-cpu folder.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--top", type=int, default=25)
    arguments = parser.parse_args()
    summarise(arguments.folder, arguments.top)

"""A Node.js checker that stays up for the whole test process, asked one question at a time.

Starting Node and loading a checker (Microsoft's `adaptivecards`, TypeScript's compiler with the standard library
and Slack's types) costs far more CPU than the check itself, and many tests check: each test process starts each
checker once, on first use, and sends it one JSON line per check over stdin; the answer is one JSON line on stdout.
Every check still runs inside the test that asked, on what that test produced, so a failure names that test.
A checker that died (or broke its answer) is started again for the next question.
"""

from __future__ import annotations

import atexit
import json
import select
import subprocess
import threading
from pathlib import Path
from typing import Any


class NodeChecker:
    def __init__(self, script: Path) -> None:
        self._script = script
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()  # a test may check from a worker thread

    def ask(self, question: Any, timeout: float = 120.0) -> Any:
        with self._lock:
            process = self._running()
            assert process.stdin is not None
            assert process.stdout is not None
            try:
                process.stdin.write(json.dumps(question) + "\n")
                process.stdin.flush()
                ready, _, _ = select.select([process.stdout], [], [], timeout)
                line = process.stdout.readline() if ready else ""
            except (BrokenPipeError, OSError):
                line = ""
            if not line:
                self.stop()
                raise AssertionError(f"{self._script.name} gave no answer (see its output above)")
            return json.loads(line)

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                ["node", str(self._script), "--serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                bufsize=1,
            )
            atexit.register(self.stop)
        return self._process

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the checker ends at the end of its input
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


_checkers: dict[Path, NodeChecker] = {}


def node_checker(script: Path) -> NodeChecker:
    """The checker running `script` in this test process (started on first use)."""
    if script not in _checkers:
        _checkers[script] = NodeChecker(script)
    return _checkers[script]

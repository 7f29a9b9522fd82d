"""Background work that runs now and then every few seconds while the service runs, and stops between runs.

Cancelling such a loop as the service stops interrupts whatever it is doing: a database write half done, a
connection cancelled while it closes (SQLAlchemy logs that as an error with a traceback). `Periodic.stop` asks
the loop to end after the run in progress instead, and cancels only a run that outlasts the grace.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from bot.logs import get_logger, log_failure

log = get_logger(__name__)

#: How long stopping waits for a run in progress before cancelling it (the outreach runner's jobs too).
STOP_GRACE_SECONDS = 10.0


class Periodic:
    """`job()` now and then every `interval` seconds until `stop()`; a failed run is logged as `what` (on the
    feature's own `logger`) and the next run tries again."""

    def __init__(
        self,
        job: Callable[[], Awaitable[object]],
        what: str,
        interval: float,
        name: str,
        logger: Any = log,
    ) -> None:
        self._job = job
        self._what = what
        self._log = logger
        self._interval = interval
        self._name = name
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._loop(), name=self._name)

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            self._log.warning("background work cancelled at shutdown", work=self._name, grace_seconds=grace)
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._job()
            except Exception:  # one catch-all per entry point: log, keep the loop alive
                log_failure(self._log, self._what)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)

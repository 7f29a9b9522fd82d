"""Pacing shared by every replica: each workspace's send slots are reserved in the database (`SqlRateBudget`).

`SharedPacer` has the same face as the in-process `Pacer` (`wait_turn`, `pause`, `paused_for`), so the outbox
worker does not know which one it has. A pacer reserves several slots at a time — as many as it has senders
waiting, and at least `MIN_BATCH` (a second's worth at low rates: 4 slots at 4 a second), at most `batch_seconds`
worth — so the database sees one short UPDATE per few sends, not one per send. A slot reserved but not used (the
sender gave its row back, or no more rows came) is lost only for that moment. A 429's Retry-After is written to
the shared row at once and drops the slots this replica still held: every replica waits it out, not only the one
that was refused.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Protocol

from bot.domain.tenancy import Platform
from bot.logs import get_logger
from bot.storage.rate_budget import SqlRateBudget

log = get_logger(__name__)

# The Web API method a platform's outreach sends count against (the budget is kept per method).
SEND_METHODS: Mapping[Platform, str] = {Platform.SLACK: "chat.postMessage", Platform.TEAMS: "activities"}


STALE = 0.05  # seconds
MIN_BATCH = 8  # slots reserved at once even for one waiting sender (fewer when the rate is below 8 a second)


class PacerLike(Protocol):
    async def wait_turn(self) -> None: ...

    def pause(self, seconds: float) -> None: ...

    def paused_for(self) -> float: ...


class SharedPacer:
    def __init__(
        self,
        budget: SqlRateBudget,
        platform: Platform,
        workspace: str,
        rate: float,
        *,
        method: str | None = None,
        batch_seconds: float = 1.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._budget = budget
        self._key = (platform.value, workspace, method or SEND_METHODS.get(platform, "send"))
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._batch = max(1, math.floor(rate * batch_seconds)) if rate > 0 else 1
        self._min_batch = min(MIN_BATCH, max(1, math.ceil(rate)))
        self._wall = wall
        self._slack = min(0.001, self._interval / 5)
        self._last = -math.inf  # when this replica's previous turn really started
        self._slots: deque[float] = deque()
        self._paused_until = 0.0
        self._turns = asyncio.Lock()
        self._waiting = 0
        self._writes: set[asyncio.Task[None]] = set()

    def pause(self, seconds: float) -> None:
        until = self._wall() + seconds
        self._paused_until = max(self._paused_until, until)
        self._slots.clear()  # they fall inside the pause
        task = asyncio.get_running_loop().create_task(self._write_pause(until))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write_pause(self, until: float) -> None:
        try:
            await self._budget.pause(*self._key, until)
        except Exception as exc:  # the local pause still holds; other replicas learn from their own 429
            log.warning("rate budget pause not shared", error=type(exc).__name__)

    async def shared(self) -> None:
        """Wait until the pauses this pacer saw are written to the shared budget (for shutdown and tests)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._wall())

    async def wait_turn(self) -> None:
        self._waiting += 1
        counted = True
        try:
            async with self._turns:
                self._waiting -= 1
                counted = False
                while True:
                    fresh = not self._slots
                    if fresh:
                        await self._reserve(min(self._batch, max(self._waiting + 1, self._min_batch)))
                    slot = self._slots.popleft()
                    if slot < self._paused_until:
                        continue
                    # A slot held from earlier that this replica reaches long after its time (half an interval, and
                    # at least STALE seconds) is left unused: the next slot may be another replica's, and two sends
                    # that close could be refused (a 429 pauses every replica for a second; a skipped slot costs
                    # one send's time). The first slot of a new reservation is always taken, so a slow database
                    # cannot starve the sender.
                    if not fresh and self._wall() - slot > max(self._interval / 2, STALE):
                        continue
                    # A turn this replica takes late (a slow event loop) must not make its next one early: its own
                    # sends stay an interval apart (a slot on time may come up to `slack` sooner), so a late
                    # wake-up never turns into a run of catch-up sends the platform would refuse.
                    earliest = self._last + self._interval
                    start = slot if slot >= earliest - self._slack else max(slot, earliest)
                    delay = start - self._wall()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    if self._paused_until > self._wall():
                        continue  # a 429 came in while this send waited: it waits out the pause too
                    break
                self._last = self._wall()
        finally:
            if counted:  # cancelled while queueing for the lock
                self._waiting -= 1

    async def _reserve(self, count: int) -> None:
        first, paused = await self._budget.reserve(
            *self._key, interval=self._interval, count=count, now=max(self._wall(), self._paused_until)
        )
        self._paused_until = max(self._paused_until, paused)
        self._slots.extend(first + i * self._interval for i in range(count))


class SharedPacers:
    """The pacer factory the outbox worker takes: one `SharedPacer` per (platform, workspace)."""

    def __init__(self, budget: SqlRateBudget, rate: float, *, batch_seconds: float = 1.0) -> None:
        self._budget = budget
        self._rate = rate
        self._batch_seconds = batch_seconds

    def __call__(self, platform: Platform, workspace: str) -> SharedPacer:
        return SharedPacer(self._budget, platform, workspace, self._rate, batch_seconds=self._batch_seconds)

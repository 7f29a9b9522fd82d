"""The one way tests wait for something the service does in the background: poll a condition until it holds."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

Check = Callable[[], bool] | Callable[[], Awaitable[bool]]


async def eventually(
    check: Check,
    timeout: float = 10.0,  # noqa: ASYNC109  (a deadline for the polling, not for one call)
    what: str = "the condition",
    interval: float = 0.02,
) -> None:
    """Return as soon as `check()` (plain or async) holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)

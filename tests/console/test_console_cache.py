"""The console's small caches: LRU bound, expiry, and one computation for many concurrent callers."""

from __future__ import annotations

import asyncio

import pytest

from bot.web.console.cache import Expiring, Lru


def test_lru_keeps_the_most_recent() -> None:
    cache: Lru[int] = Lru(size=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == 1
    assert len(cache) == 2


class Ticks:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_misses_compute_once_and_entries_expire() -> None:
    ticks = Ticks()
    cache: Expiring[str] = Expiring(ttl=0.2, clock=ticks)
    runs = 0
    gate = asyncio.Event()

    async def compute() -> str:
        nonlocal runs
        runs += 1
        await gate.wait()
        return "page"

    waiting = [asyncio.create_task(cache.get_or_compute("k", compute)) for _ in range(20)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(*waiting) == ["page"] * 20
    assert runs == 1
    assert await cache.get_or_compute("k", compute) == "page"
    assert runs == 1
    ticks.now += 0.25
    assert cache.get("k") is None
    # expired but recent: answered at once while one background run refreshes it
    assert await cache.get_or_compute("k", compute) == "page"
    assert await cache.get_or_compute("k", compute) == "page"
    await asyncio.sleep(0.01)
    assert runs == 2
    assert cache.get("k") == "page"
    # far too old: callers wait for a fresh value
    ticks.now += 1.3
    assert await cache.get_or_compute("k", compute) == "page"
    assert runs == 3


async def test_a_failed_computation_is_not_cached() -> None:
    cache: Expiring[str] = Expiring(ttl=10)

    async def broken() -> str:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        await cache.get_or_compute("k", broken)

    async def fine() -> str:
        return "ok"

    assert await cache.get_or_compute("k", fine) == "ok"

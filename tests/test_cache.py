"""The TTL cache: concurrent misses share one load, failures are not cached, entries expire."""

from __future__ import annotations

import asyncio

from bot.cache import TtlCache


async def test_concurrent_misses_share_one_load() -> None:
    cache: TtlCache[str, int] = TtlCache(ttl=60)
    loads = 0
    release = asyncio.Event()

    async def load() -> int:
        nonlocal loads
        loads += 1
        await release.wait()
        return 42

    waiting = [asyncio.create_task(cache.get("tenant", load)) for _ in range(50)]
    await asyncio.sleep(0.01)
    release.set()
    assert await asyncio.gather(*waiting) == [42] * 50
    assert loads == 1
    assert await cache.get("tenant", load) == 42
    assert loads == 1


async def test_failures_reach_every_waiter_and_are_not_cached() -> None:
    cache: TtlCache[str, int] = TtlCache(ttl=60)
    release = asyncio.Event()

    async def failing() -> int:
        await release.wait()
        raise LookupError("database down")

    waiting = [asyncio.create_task(cache.get("k", failing)) for _ in range(3)]
    await asyncio.sleep(0.01)
    release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results)

    async def working() -> int:
        return 7

    assert await cache.get("k", working) == 7


async def test_entries_expire_and_can_be_forgotten() -> None:
    now = [1000.0]
    cache: TtlCache[str, int] = TtlCache(ttl=0.05, clock=lambda: now[0])
    values = iter(range(10))

    async def load() -> int:
        return next(values)

    assert await cache.get("k", load) == 0
    assert await cache.get("k", load) == 0
    now[0] += 0.06
    assert await cache.get("k", load) == 1
    cache.forget("k")
    assert await cache.get("k", load) == 2

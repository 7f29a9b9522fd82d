"""A small time-to-live cache whose concurrent misses of one key share a single load.

Without the sharing, every request that arrives while an entry is being refreshed would query the database too:
with a hundred requests in flight that is a hundred identical reads at the moment the entry expires.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float, limit: int = 10_000) -> None:
        self._ttl = ttl
        self._limit = limit
        self._values: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        hit = self._values.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: waiters (if any) get it too, nobody is warned about it
            raise
        finally:
            self._loading.pop(key, None)
        if len(self._values) >= self._limit:
            self._values.clear()
        self._values[key] = (time.monotonic() + self._ttl, value)
        future.set_result(value)
        return value

    def forget(self, key: K) -> None:
        self._values.pop(key, None)

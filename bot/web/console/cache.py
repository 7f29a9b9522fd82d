"""Small in-process caches for derived, non-secret page data (aggregated insights, the calendar, organisations).

`Lru` keys include what the value was derived from (a schedule's rule and the calendar), so a stale entry is never
hit. `Expiring` entries also lapse after a few seconds, for data that other processes change (the outbox worker,
a pulse closing, another replica); the console's own changes to an organisation bump its version, which is part
of those keys, so a counsellor sees their own change at once. Access checks never use a cache.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Lru(Generic[V]):
    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> V:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)
        return value

    def pop(self, key: Hashable) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class Expiring(Generic[V]):
    """Like Lru, but entries also expire after `ttl` seconds (monotonic clock): for data other processes change."""

    def __init__(self, ttl: float, size: int = 512) -> None:
        self._ttl = ttl
        self._items: Lru[tuple[float, V]] = Lru(size)
        self._computing: dict[Hashable, asyncio.Future[V]] = {}

    async def get_or_compute(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        """The cached value, or `compute()` — once: concurrent callers for the same key wait for the same run."""
        found = self.get(key)
        if found is not None:
            return found
        running = self._computing.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._computing[key] = future
        try:
            value = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so an unobserved failure is not logged as never retrieved
            raise
        finally:
            self._computing.pop(key, None)
        future.set_result(value)
        return self.put(key, value)

    def get(self, key: Hashable) -> V | None:
        found = self._items.get(key)
        if found is None or time.monotonic() - found[0] > self._ttl:
            return None
        return found[1]

    def put(self, key: Hashable, value: V) -> V:
        self._items.put(key, (time.monotonic(), value))
        return value

    def pop(self, key: Hashable) -> None:
        self._items.pop(key)

    def clear(self) -> None:
        self._items.clear()

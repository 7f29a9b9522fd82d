"""The one in-process cache of vipbot: LRU-bounded, entries expiring on an injected monotonic clock, one
computation shared by every concurrent caller of a key.

`Expiring` keys include what the value was derived from where they can, so a stale entry is never hit; entries
also lapse after `ttl` seconds, for data that other processes change. Past its ttl (but younger than
`stale_factor` × ttl) an entry is still answered while one background run refreshes it, so no caller waits when
a busy entry expires. `TtlCache` is the same without answering stale entries, for lookups (tenants,
organisations, languages) whose callers must see a change within the ttl. Access checks never use a cache.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from bot.logs import failure_fields, get_logger

log = get_logger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
STALE_FACTOR = 6


def _observe(task: asyncio.Future[Any]) -> None:
    """A background refresh that failed is retried by the next request; its error is logged, not lost."""
    error = None if task.cancelled() else task.exception()
    if error is not None:
        log.warning("a cached value could not be refreshed", **failure_fields(error))


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
    """Like Lru, but entries also expire after `ttl` seconds of `clock` (monotonic seconds, injected for tests):
    for data other processes change."""

    def __init__(
        self,
        ttl: float,
        size: int = 512,
        *,
        clock: Callable[[], float] = time.monotonic,
        stale_factor: float = STALE_FACTOR,
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._stale = ttl * stale_factor
        self._items: Lru[tuple[float, V]] = Lru(size)
        self._computing: dict[Hashable, asyncio.Future[V]] = {}

    async def get_or_compute(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        """The cached value, or `compute()` run once for all concurrent callers of the key.

        An entry past its `ttl` (but younger than `STALE_FACTOR` × ttl) is still answered while one background
        run refreshes it, so no caller waits when a busy page expires.
        """
        entry = self._items.get(key)
        if entry is not None:
            age = self._clock() - entry[0]
            if age <= self._ttl:
                return entry[1]
            if age <= self._stale:
                if key not in self._computing:
                    self._start(key, compute)
                return entry[1]
        running = self._computing.get(key) or self._start(key, compute)
        return await asyncio.shield(running)

    def _start(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> asyncio.Future[V]:
        task = asyncio.ensure_future(self._run(key, compute))
        task.add_done_callback(_observe)
        self._computing[key] = task
        return task

    async def _run(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        try:
            return self.put(key, await compute())
        finally:
            self._computing.pop(key, None)

    def get(self, key: Hashable) -> V | None:
        found = self._items.get(key)
        if found is None or self._clock() - found[0] > self._ttl:
            return None
        return found[1]

    def put(self, key: Hashable, value: V) -> V:
        self._items.put(key, (self._clock(), value))
        return value

    def pop(self, key: Hashable) -> None:
        self._items.pop(key)

    def clear(self) -> None:
        self._items.clear()


class TtlCache(Generic[K, V]):
    """`get(key, load)`: the cached value, or `load()` run once for every concurrent caller; never stale."""

    def __init__(
        self, ttl: float, limit: int = 10_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: Expiring[V] = Expiring(ttl, limit, clock=clock, stale_factor=1.0)

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        return await self._entries.get_or_compute(key, load)

    def forget(self, key: K) -> None:
        self._entries.pop(key)

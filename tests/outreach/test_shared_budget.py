"""The send budget shared by replicas: slots reserved in the database are never handed out twice, a workspace's
slots are spaced by its rate whichever replica asks, and a Retry-After seen by one replica holds back the others.
Real SQLite and PostgreSQL; "replicas" are separate budget and pacer objects on the same database."""

from __future__ import annotations

import asyncio
import itertools

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.tenancy import Platform
from bot.storage.db import create_engine
from bot.storage.rate_budget import SqlRateBudget
from scheduler.budget import SharedPacer

KEY = ("slack", "T0001", "chat.postMessage")


async def test_two_replicas_get_disjoint_slots_spaced_by_the_rate(
    engine: AsyncEngine, database_url: str
) -> None:
    other_engine = create_engine(database_url)  # the second replica's own connection pool
    try:
        one, two = SqlRateBudget(engine), SqlRateBudget(other_engine)
        interval = 0.25  # 4 a second
        reserved: list[float] = []
        for budget, count in ((one, 3), (two, 2), (one, 1), (two, 4)):
            start, _paused = await budget.reserve(*KEY, interval=interval, count=count, now=1000.0)
            reserved += [start + i * interval for i in range(count)]
        assert reserved == [1000.0 + i * interval for i in range(10)]  # one timeline, no slot twice

        # Concurrent reservations (both replicas at once) still never overlap.
        results = await asyncio.gather(
            *(b.reserve(*KEY, interval=interval, count=2, now=1000.0) for b in (one, two) * 10)
        )
        starts = sorted(start for start, _ in results)
        assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [0.5] * 19
        assert starts[0] == 1000.0 + 10 * interval

        # Another workspace (or method) has its own budget.
        start, _ = await two.reserve(
            "slack", "T0002", "chat.postMessage", interval=interval, count=1, now=1000.0
        )
        assert start == 1000.0
        # Time moves on: an idle budget does not save up a burst.
        start, _ = await one.reserve(*KEY, interval=interval, count=1, now=5000.0)
        assert start == 5000.0
    finally:
        await other_engine.dispose()


async def test_a_retry_after_seen_by_one_replica_holds_back_the_other(
    engine: AsyncEngine, database_url: str
) -> None:
    other_engine = create_engine(database_url)
    now = [2000.0]
    try:
        refused = SharedPacer(SqlRateBudget(engine), Platform.SLACK, "T0001", 4.0, wall=lambda: now[0])
        refused.pause(30)  # this replica got a 429 with Retry-After: 30
        await refused.shared()
        assert refused.paused_for() == 30

        elsewhere = SqlRateBudget(other_engine)
        start, paused_until = await elsewhere.reserve(*KEY, interval=0.25, count=1, now=now[0] + 1)
        assert paused_until == 2030.0
        assert start == 2030.0  # the other replica's next send waits for the end of the pause too
        assert await elsewhere.paused_until(*KEY) == 2030.0
    finally:
        await other_engine.dispose()

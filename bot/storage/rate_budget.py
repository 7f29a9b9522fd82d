"""The send budget shared by every replica: per (platform, workspace, method), the next free slot and any pause.

A sender reserves `count` slots `interval` apart with one UPDATE … RETURNING: the row moves its `next_at` past
them, so two replicas never get the same slot, and together they send no faster than one replica alone would.
A Retry-After seen by one replica is written to `paused_until`, and no slot is handed out before it. Times are
seconds since the epoch from the callers' clocks (replicas keep their clocks in step with NTP).

PostgreSQL serialises the reservations on the row lock; SQLite (one process) on its single writer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from bot.storage.tables_members import RateBudgetRow


class SqlRateBudget:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def _greatest(self, *values: Any) -> Any:
        # PostgreSQL's GREATEST; SQLite's max() with several arguments is the same scalar function.
        return func.greatest(*values) if self._postgres else func.max(*values)

    def _key(self, platform: str, workspace: str, method: str) -> Any:
        return (
            (col(RateBudgetRow.platform) == platform)
            & (col(RateBudgetRow.workspace_id) == workspace)
            & (col(RateBudgetRow.method) == method)
        )

    async def _ensure(self, platform: str, workspace: str, method: str) -> None:
        insert = postgresql.insert if self._postgres else sqlite.insert
        statement = (
            insert(RateBudgetRow)
            .values(platform=platform, workspace_id=workspace, method=method, next_at=0.0, paused_until=0.0)
            .on_conflict_do_nothing()
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def reserve(
        self, platform: str, workspace: str, method: str, *, interval: float, count: int, now: float
    ) -> tuple[float, float]:
        """Reserve `count` slots `interval` seconds apart; returns (start of the first slot, paused until)."""
        span = interval * count
        start = self._greatest(col(RateBudgetRow.next_at), col(RateBudgetRow.paused_until), now)
        statement = (
            update(RateBudgetRow)
            .where(self._key(platform, workspace, method))
            .values(next_at=start + span)
            .returning(col(RateBudgetRow.next_at), col(RateBudgetRow.paused_until))
        )
        for _ in range(2):
            # A plain connection, not an ORM session: this runs once per few sends.
            async with self._engine.begin() as connection:
                row = (await connection.execute(statement)).first()
            if row is not None:
                return float(row[0]) - span, float(row[1])
            await self._ensure(platform, workspace, method)
        raise RuntimeError("the rate budget row vanished right after it was created")

    async def pause(self, platform: str, workspace: str, method: str, until: float) -> None:
        """Nobody sends with this key before `until` (a Retry-After), whichever replica saw it."""
        statement = (
            update(RateBudgetRow)
            .where(self._key(platform, workspace, method))
            .values(paused_until=self._greatest(col(RateBudgetRow.paused_until), until))
        )
        for _ in range(2):
            async with self._engine.begin() as connection:
                result = await connection.execute(statement)
            if result.rowcount:
                return
            await self._ensure(platform, workspace, method)

    async def paused_until(self, platform: str, workspace: str, method: str) -> float:
        from sqlalchemy import select

        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(col(RateBudgetRow.paused_until)).where(self._key(platform, workspace, method))
                )
            ).first()
        return float(row[0]) if row is not None else 0.0

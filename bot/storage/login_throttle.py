"""Counting sign-in attempts before the password is checked: growing delays per (address typed, client).

One UPDATE both counts an attempt and decides whether it may be checked, so parallel guesses cannot all slip
through between a check and a write: of any burst, at most `free` attempts reach the password hash. From the
`free`-th failure in a row on, every attempt is followed by a wait that doubles (`first_delay` … `max_delay`);
while waiting, attempts are refused without being counted or checked. Nothing here locks the account itself:
another client (another address, or the owner's own browser with its device cookie) has its own count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, literal, null, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from bot.storage.db import one_writer, session_factory, transaction
from bot.storage.tables_console import ConsoleLoginThrottleRow

FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    free: int = 5
    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)

    def delays(self) -> list[timedelta]:
        """The wait after the `free`-th failure in a row, the next, …, up to `max_delay`."""
        found, delay = [], self.first_delay
        while delay < self.max_delay:
            found.append(delay)
            delay *= 2
        return [*found, self.max_delay]


class SqlLoginThrottle:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = session_factory(engine)

    def _insert(self) -> Any:
        table = ConsoleLoginThrottleRow.__table__  # type: ignore[attr-defined]
        return (postgresql if self._engine.dialect.name == "postgresql" else sqlite).insert(table)

    async def admit(self, key: bytes, now: datetime, policy: ThrottlePolicy) -> bool:
        """Count one attempt under `key`; True if its password may be checked."""
        table = ConsoleLoginThrottleRow.__table__  # type: ignore[attr-defined]
        when = table.c.blocked_until.type

        failures = col(ConsoleLoginThrottleRow.failures) + 1
        ladder = [
            (failures == policy.free + i, literal(now + delay, type_=when))
            for i, delay in enumerate(policy.delays())
        ]
        blocked = case(
            (failures < policy.free, null()),
            *ladder,
            else_=literal(now + policy.max_delay, type_=when),
        )
        async with one_writer(self._engine), transaction(self._sessions) as session:
            await session.exec(
                delete(ConsoleLoginThrottleRow).where(
                    col(ConsoleLoginThrottleRow.last_failure) < now - FORGET_AFTER,
                    or_(
                        col(ConsoleLoginThrottleRow.blocked_until).is_(None),
                        col(ConsoleLoginThrottleRow.blocked_until) < now,
                    ),
                )
            )
            await session.exec(
                self._insert()
                .values(key=key, failures=0, blocked_until=None, last_failure=now)
                .on_conflict_do_nothing()
            )
            counted = await session.exec(
                update(ConsoleLoginThrottleRow)
                .where(col(ConsoleLoginThrottleRow.key) == key)
                .where(
                    or_(
                        col(ConsoleLoginThrottleRow.blocked_until).is_(None),
                        col(ConsoleLoginThrottleRow.blocked_until) <= now,
                    )
                )
                .values(failures=failures, blocked_until=blocked, last_failure=now)
                .returning(col(ConsoleLoginThrottleRow.failures))
            )
            return counted.first() is not None

    async def forget(self, *keys: bytes) -> None:
        """A successful sign-in: its counts start again."""
        async with transaction(self._sessions) as session:
            await session.exec(
                delete(ConsoleLoginThrottleRow).where(col(ConsoleLoginThrottleRow.key).in_(keys))
            )

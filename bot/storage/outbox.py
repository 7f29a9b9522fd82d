"""The delivery outbox in SQL: materialising occurrences, claiming rows under a lease, recording outcomes.

PostgreSQL: several workers (in several replicas) claim with `FOR UPDATE SKIP LOCKED`, so no row is handed out
twice while its lease runs. SQLite has no row locks: there one process is the one writer, and the claim is a
single UPDATE … RETURNING statement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import and_, case, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.delivery import Target, TargetKind
from bot.domain.failures import Failure
from bot.domain.outreach import Addressee, Delivery, DeliveryStatus, Occurrence, OutboxStats, What
from bot.domain.tenancy import Platform
from bot.storage.db import session_factory, transaction
from bot.storage.tables_outreach import OutreachDeliveryRow, OutreachMemberRow, OutreachOccurrenceRow

_INSERT_CHUNK = 500
_RECORD_CHUNK = 200  # rows per statement when recording sends (three bound values each)
ERROR_MAX = 300


def _insert(engine: AsyncEngine, table: Any) -> Any:
    dialect = engine.dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def occurrence_from_row(row: OutreachOccurrenceRow) -> Occurrence:
    return Occurrence(
        id=row.id,
        organisation_id=row.organisation_id,
        schedule_id=row.schedule_id,
        occurs_at=row.occurs_at,
        send_at=row.send_at,
        what=What(row.kind),
        item_id=row.item_id,
        locale=row.locale,
    )


def _due_offsets(addressees: Sequence[Addressee], pace: float) -> list[timedelta]:
    """When each delivery falls due, relative to the send time, from its place within its workspace.

    With a `pace` (the sends a second one workspace takes), a workspace's first second's worth is due at the
    send time and the rest follow at twice that pace: workers, which claim in order of due time, then take every
    workspace's deliveries side by side — a workspace never waits behind another's thousands, whichever
    occurrence was materialised first — and nothing is claimed long before it can go out. (Twice: a worker that
    fell behind for a moment finds the next rows already due and catches up; at exactly the pace, lost time would
    stay lost.) Without a pace, all are due at the send time, in round-robin order over the workspaces (a
    microsecond apart).
    """
    seen: dict[tuple[str, str], int] = {}
    turns = []
    for a in addressees:
        key = (a.target.platform.value, a.target.workspace_id)
        turns.append(seen.get(key, 0))
        seen[key] = turns[-1] + 1
    if pace > 0:
        head = math.ceil(pace)
        return [timedelta(seconds=max(0, turn - head) / (2 * pace)) for turn in turns]
    last = max(seen.values(), default=1) - 1
    return [timedelta(microseconds=turn - last) for turn in turns]


class SqlOutbox:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self._postgres = engine.dialect.name == "postgresql"

    # --- materialising ---------------------------------------------------------------------------------

    async def occurrence(self, organisation_id: UUID, occurrence_id: UUID) -> Occurrence | None:
        async with self._sessions() as session:
            row = await session.get(OutreachOccurrenceRow, occurrence_id)
        if row is None or row.organisation_id != organisation_id:
            return None
        return occurrence_from_row(row)

    async def find_occurrence(
        self, organisation_id: UUID, schedule_id: UUID, occurs_at: datetime
    ) -> Occurrence | None:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(OutreachOccurrenceRow).where(
                        col(OutreachOccurrenceRow.organisation_id) == organisation_id,
                        col(OutreachOccurrenceRow.schedule_id) == schedule_id,
                        col(OutreachOccurrenceRow.occurs_at) == occurs_at,
                    )
                )
            ).first()
        return None if row is None else occurrence_from_row(row)

    async def item_use(self, organisation_id: UUID, schedule_id: UUID) -> dict[str, int]:
        """How often each item has been posted by this schedule (for the rotation)."""
        async with self._sessions() as session:
            rows = await session.exec(
                select(OutreachOccurrenceRow.item_id, func.count())
                .where(
                    col(OutreachOccurrenceRow.organisation_id) == organisation_id,
                    col(OutreachOccurrenceRow.schedule_id) == schedule_id,
                    col(OutreachOccurrenceRow.item_id).is_not(None),
                )
                .group_by(col(OutreachOccurrenceRow.item_id))
            )
            return {str(item): int(n) for item, n in rows}

    async def columns_sent(self, organisation_id: UUID, start: datetime, end: datetime) -> list[str]:
        """The library columns whose posts due in [start, end) reached someone, in the order first posted."""
        first = func.min(col(OutreachOccurrenceRow.send_at))
        query = (
            select(OutreachOccurrenceRow.item_id, first)
            .join(
                OutreachDeliveryRow, col(OutreachDeliveryRow.occurrence_id) == col(OutreachOccurrenceRow.id)
            )
            .where(
                col(OutreachOccurrenceRow.organisation_id) == organisation_id,
                col(OutreachOccurrenceRow.kind) == What.COLUMN.value,
                col(OutreachOccurrenceRow.item_id).is_not(None),
                col(OutreachOccurrenceRow.send_at) >= start.astimezone(UTC),
                col(OutreachOccurrenceRow.send_at) < end.astimezone(UTC),
                col(OutreachDeliveryRow.status) == DeliveryStatus.SENT.value,
            )
            .group_by(col(OutreachOccurrenceRow.item_id))
            .order_by(first)
        )
        async with self._sessions() as session:
            return [str(item) for item, _ in await session.exec(query)]

    async def add_occurrence(
        self,
        *,
        organisation_id: UUID,
        schedule_id: UUID | None,
        occurs_at: datetime,
        send_at: datetime,
        what: What,
        item_id: str | None,
        locale: str,
    ) -> tuple[Occurrence, bool]:
        """Insert the occurrence unless it exists; returns the stored one and whether this call created it."""
        new_id = uuid4()
        statement = (
            _insert(self._engine, OutreachOccurrenceRow)
            .values(
                id=new_id,
                organisation_id=organisation_id,
                schedule_id=schedule_id,
                occurs_at=occurs_at,
                send_at=send_at,
                kind=what.value,
                item_id=item_id,
                locale=locale,
                created_at=send_at,
            )
            .on_conflict_do_nothing()
        )
        async with transaction(self._sessions) as session:
            await session.exec(statement)
        if schedule_id is None:
            stored = await self.occurrence(organisation_id, new_id)
        else:
            stored = await self.find_occurrence(organisation_id, schedule_id, occurs_at)
        if stored is None:
            raise RuntimeError("the occurrence vanished right after it was inserted")
        return stored, stored.id == new_id

    async def add_deliveries(
        self, occurrence: Occurrence, addressees: Sequence[Addressee], pace: float = 0.0
    ) -> int:
        """Queue one delivery per addressee; existing (occurrence, target) rows are left alone. Returns the count
        of rows this call inserted. `pace`: see `_due_offsets`."""
        inserted = 0
        offsets = _due_offsets(addressees, pace)
        for start in range(0, len(addressees), _INSERT_CHUNK):
            chunk = addressees[start : start + _INSERT_CHUNK]
            values = [
                {
                    "id": uuid4(),
                    "organisation_id": occurrence.organisation_id,
                    "occurrence_id": occurrence.id,
                    "platform": a.target.platform.value,
                    "workspace_id": a.target.workspace_id,
                    "target_kind": a.target.kind.value,
                    "address": a.target.address,
                    "locale": a.locale,
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 0,
                    "not_before": occurrence.send_at + offset,
                    "created_at": occurrence.send_at,
                }
                for a, offset in zip(chunk, offsets[start : start + _INSERT_CHUNK], strict=True)
            ]
            statement = _insert(self._engine, OutreachDeliveryRow).values(values).on_conflict_do_nothing()
            async with transaction(self._sessions) as session:
                result = await session.exec(statement)
                inserted += max(result.rowcount, 0)
        return inserted

    # --- claiming and outcomes ---------------------------------------------------------------------------

    async def claim(self, worker_id: str, now: datetime, lease: timedelta, limit: int) -> list[Delivery]:
        """Hand out up to `limit` due rows to this worker: first rows whose lease ran out (their worker died or
        stalled), then pending rows in the order they became due."""
        if limit <= 0:
            return []
        expired = and_(
            col(OutreachDeliveryRow.status) == DeliveryStatus.CLAIMED.value,
            col(OutreachDeliveryRow.claimed_until) < now,
        )
        claimed = await self._claim(
            worker_id, now, lease, limit, expired, col(OutreachDeliveryRow.claimed_until)
        )
        if len(claimed) < limit:
            pending = and_(
                col(OutreachDeliveryRow.status) == DeliveryStatus.PENDING.value,
                col(OutreachDeliveryRow.not_before) <= now,
            )
            claimed += await self._claim(
                worker_id, now, lease, limit - len(claimed), pending, col(OutreachDeliveryRow.not_before)
            )
        return claimed

    async def _claim(
        self, worker_id: str, now: datetime, lease: timedelta, limit: int, due: Any, order: Any
    ) -> list[Delivery]:
        # One condition per statement, ordered along the (status, not_before) index: an OR of both would make
        # the database sort every pending row on each claim.
        pick = select(OutreachDeliveryRow.id).where(due).order_by(order).limit(limit)
        if self._postgres:
            pick = pick.with_for_update(skip_locked=True)
        statement = (
            update(OutreachDeliveryRow)
            .where(col(OutreachDeliveryRow.id).in_(pick.scalar_subquery()))
            .values(
                status=DeliveryStatus.CLAIMED.value,
                claimed_by=worker_id,
                claimed_until=now + lease,
                attempts=col(OutreachDeliveryRow.attempts) + 1,
            )
            .returning(
                col(OutreachDeliveryRow.id),
                col(OutreachDeliveryRow.organisation_id),
                col(OutreachDeliveryRow.occurrence_id),
                col(OutreachDeliveryRow.platform),
                col(OutreachDeliveryRow.workspace_id),
                col(OutreachDeliveryRow.target_kind),
                col(OutreachDeliveryRow.address),
                col(OutreachDeliveryRow.locale),
                col(OutreachDeliveryRow.attempts),
            )
        )
        # A plain connection, not an ORM session: this runs for every few deliveries, and the session's
        # bookkeeping costs more CPU than the statement.
        async with self._engine.begin() as connection:
            rows = (await connection.execute(statement)).all()
        return [
            Delivery(
                id=r[0],
                organisation_id=r[1],
                occurrence_id=r[2],
                target=Target(Platform(r[3]), r[4], TargetKind(r[5]), r[6]),
                locale=r[7],
                attempts=r[8],
            )
            for r in rows
        ]

    async def _finish(self, delivery_id: UUID, worker_id: str, **values: Any) -> bool:
        async with transaction(self._sessions) as session:
            result = await session.exec(
                update(OutreachDeliveryRow)
                .where(
                    col(OutreachDeliveryRow.id) == delivery_id,
                    col(OutreachDeliveryRow.claimed_by) == worker_id,
                    col(OutreachDeliveryRow.status) == DeliveryStatus.CLAIMED.value,
                )
                .values(claimed_until=None, **values)
            )
            return bool(result.rowcount)

    async def mark_sent_many(
        self, worker_id: str, sent: Sequence[tuple[UUID, str]], now: datetime
    ) -> set[UUID]:
        """Record many sends (delivery id, platform message id) at once, as the worker does in batches.

        Only rows this worker still holds are changed: a row whose lease ran out and was claimed by another
        worker (or given back) is left alone. Returns the ids that were recorded; the caller compares.
        """
        recorded: set[UUID] = set()
        for start in range(0, len(sent), _RECORD_CHUNK):
            chunk = sent[start : start + _RECORD_CHUNK]
            ids = col(OutreachDeliveryRow.id)
            statement = (
                update(OutreachDeliveryRow)
                .where(
                    ids.in_([delivery_id for delivery_id, _ in chunk]),
                    col(OutreachDeliveryRow.claimed_by) == worker_id,
                    col(OutreachDeliveryRow.status) == DeliveryStatus.CLAIMED.value,
                )
                .values(
                    status=DeliveryStatus.SENT.value,
                    message_id=case(*[(ids == delivery_id, message_id) for delivery_id, message_id in chunk]),
                    sent_at=now,
                    claimed_until=None,
                    error=None,
                )
                .returning(ids)
            )
            async with self._engine.begin() as connection:  # no ORM session: see `_claim`
                recorded.update(row[0] for row in (await connection.execute(statement)).all())
        return recorded

    async def mark_sent(self, delivery_id: UUID, worker_id: str, message_id: str, now: datetime) -> bool:
        return await self._finish(
            delivery_id,
            worker_id,
            status=DeliveryStatus.SENT.value,
            message_id=message_id,
            sent_at=now,
            error=None,
        )

    async def retry_later(self, delivery_id: UUID, worker_id: str, not_before: datetime, reason: str) -> bool:
        return await self._finish(
            delivery_id,
            worker_id,
            status=DeliveryStatus.PENDING.value,
            not_before=not_before,
            error=reason[:ERROR_MAX],
        )

    async def release(self, delivery_id: UUID, worker_id: str, not_before: datetime) -> bool:
        """Give a claimed row back without counting the attempt (e.g. its workspace is paused)."""
        return await self._finish(
            delivery_id,
            worker_id,
            status=DeliveryStatus.PENDING.value,
            not_before=not_before,
            attempts=col(OutreachDeliveryRow.attempts) - 1,
        )

    async def mark_failed(self, delivery_id: UUID, worker_id: str, reason: str, failure: Failure) -> bool:
        """Failed for good: the reason for operators, and its code for the console."""
        return await self._finish(
            delivery_id,
            worker_id,
            status=DeliveryStatus.FAILED.value,
            error=reason[:ERROR_MAX],
            failure_code=failure.code.value,
            failure_detail=failure.detail,
        )

    # --- reading ----------------------------------------------------------------------------------------

    async def stats(
        self, organisation_id: UUID | None = None, occurrence_id: UUID | None = None
    ) -> OutboxStats:
        conditions = []
        if organisation_id is not None:
            conditions.append(col(OutreachDeliveryRow.organisation_id) == organisation_id)
        if occurrence_id is not None:
            conditions.append(col(OutreachDeliveryRow.occurrence_id) == occurrence_id)
        async with self._sessions() as session:
            counts = dict(
                (
                    await session.exec(
                        select(OutreachDeliveryRow.status, func.count())
                        .where(*conditions)
                        .group_by(col(OutreachDeliveryRow.status))
                    )
                ).all()
            )
            failures = (
                await session.exec(
                    select(OutreachDeliveryRow.error, func.count())
                    .where(*conditions, col(OutreachDeliveryRow.status) == DeliveryStatus.FAILED.value)
                    .group_by(col(OutreachDeliveryRow.error))
                )
            ).all()
        return OutboxStats(
            pending=int(counts.get("pending", 0)),
            claimed=int(counts.get("claimed", 0)),
            sent=int(counts.get("sent", 0)),
            failed=int(counts.get("failed", 0)),
            failures=tuple((str(e), int(n)) for e, n in failures),
        )

    async def register_members(self, organisation_id: UUID, targets: Sequence[Target]) -> int:
        """Bulk-add people to the member directory (existing ones are left alone)."""
        inserted = 0
        for start in range(0, len(targets), _INSERT_CHUNK):
            values = [
                {
                    "id": uuid4(),
                    "organisation_id": organisation_id,
                    "platform": t.platform.value,
                    "workspace_id": t.workspace_id,
                    "address": t.address,
                    "active": True,
                }
                for t in targets[start : start + _INSERT_CHUNK]
            ]
            statement = _insert(self._engine, OutreachMemberRow).values(values).on_conflict_do_nothing()
            async with transaction(self._sessions) as session:
                inserted += max((await session.exec(statement)).rowcount, 0)
        return inserted

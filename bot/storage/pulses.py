"""The SQL implementation of the PulseStore port, and the one query insights read answers through.

A click is a participation row (primary key on pulse and HMAC(pulse key, question, person)) and an answer row,
written in one transaction: both or neither. Clicks that arrive together are written together (group commit):
the first click of a burst starts a flush, the flush takes every click waiting (up to `batch_limit`) and writes
them in one transaction, and each click returns its own outcome only after that transaction committed — a Slack
click is acknowledged only once it is durable. In the batch, each round's key is read (on PostgreSQL with a
key share lock, so a close waits for the batch or the batch sees the key gone) and unsealed once, and dropped
when the batch ends. The participation rows go in with `ON CONFLICT DO NOTHING RETURNING`: a person who answered
before (in an earlier batch, on another replica, or earlier in the same batch) gets ALREADY_ANSWERED without
aborting the others, and answer rows are inserted only for the participation rows that went in. A batch that
fails for any other reason is rolled back whole and its clicks are written one by one, each in its own
transaction, where the primary key refuses a second answer and the foreign key to the pulse key refuses a click
after close. That holds under any concurrency, on SQLite (one writer at a time) and PostgreSQL (row locks).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import String, and_, delete, insert, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain.aggregation import Release, StoredCell, Visibility
from bot.domain.delivery import Target, TargetKind
from bot.domain.insights import AnswerCount, RoundCounts
from bot.domain.privacy import Spend, charge
from bot.domain.pulses import AnswerOutcome, Pulse, PulseStatus, tree_from_json, tree_to_json
from bot.domain.tenancy import GroupTree, Platform
from bot.errors import NotFoundError
from bot.logs import get_logger
from bot.security import Secret, SecretBox, keyed_hash
from bot.storage.db import is_sqlite, one_writer
from bot.storage.tables import ChannelBindingRow, ManagementViewerRow, OrganisationRow, PlatformConnectionRow
from bot.storage.tables_pulses import (
    COUNTER_BIAS,
    GroupLineageRow,
    ManagementChannelRow,
    PulseCounterRow,
    PulseKeyRow,
    PulseMonthlyRow,
    PulseParticipationRow,
    PulseReleaseRow,
    PulseRow,
    PulseTallyRow,
)

KEY_PURPOSE = "pulse-key"
PULSE_KEY_BYTES = 32
BATCH_LIMIT = 256  # clicks written in one transaction at most
# Seconds the first click of a quiet moment waits for others to join its transaction. None by default: it goes
# with whatever clicks are ready at that moment, and the clicks arriving while it is written form the next batch
# (measured: the same throughput in a burst as with a 2 ms wait, and no wait for a lone click).
BATCH_DELAY = 0.0

log = get_logger(__name__)

_pulse = PulseRow.__table__  # type: ignore[attr-defined]
_key = PulseKeyRow.__table__  # type: ignore[attr-defined]
_participation = PulseParticipationRow.__table__  # type: ignore[attr-defined]
_counter = PulseCounterRow.__table__  # type: ignore[attr-defined]
_release = PulseReleaseRow.__table__  # type: ignore[attr-defined]
_lineage = GroupLineageRow.__table__  # type: ignore[attr-defined]
_organisation = OrganisationRow.__table__  # type: ignore[attr-defined]
_binding = ChannelBindingRow.__table__  # type: ignore[attr-defined]
_connection = PlatformConnectionRow.__table__  # type: ignore[attr-defined]
_viewer = ManagementViewerRow.__table__  # type: ignore[attr-defined]
_management = ManagementChannelRow.__table__  # type: ignore[attr-defined]
_tally = PulseTallyRow.__table__  # type: ignore[attr-defined]
_monthly = PulseMonthlyRow.__table__  # type: ignore[attr-defined]


# A counter is stored as COUNTER_BIAS + count (see tables_pulses): rows are written and read back through these.
Cell = tuple[UUID, UUID, UUID, str, str]  # organisation, round, group, question, value


def _counter_row(cell: Cell, count: int = 0) -> dict[str, object]:
    organisation_id, pulse_id, group_id, question_id, value = cell
    return {
        "organisation_id": organisation_id,
        "pulse_id": pulse_id,
        "group_id": group_id,
        "question_id": question_id,
        "value": value,
        "n": COUNTER_BIAS + count,
    }


def _count_of(stored: int) -> int:
    return int(stored) - COUNTER_BIAS


def _round_counters(organisation_id: UUID, pulse_id: UUID) -> Any:
    """The counters of one round (the condition)."""
    return and_(_counter.c.pulse_id == pulse_id, _counter.c.organisation_id == organisation_id)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _to_pulse(row: Row[Any]) -> Pulse:
    m = row._mapping
    return Pulse(
        id=m["id"],
        organisation_id=m["organisation_id"],
        pulse_set_id=m["pulse_set_id"],
        audience_group_id=m["audience_group_id"],
        status=PulseStatus(m["status"]),
        opened_at=_aware(m["opened_at"]),
        closes_at=_aware(m["closes_at"]),
        closed_at=_aware(m["closed_at"]) if m["closed_at"] is not None else None,
        tree=tree_from_json(m["tree"]),
        summary_sent_at=_aware(m["summary_sent_at"]) if m["summary_sent_at"] is not None else None,
    )


@dataclass(slots=True)
class _Click:
    """A click waiting for its batch: what to write, and where its outcome goes once the batch committed."""

    organisation_id: UUID
    pulse_id: UUID
    question_id: str
    group_id: UUID
    value: str
    participant: bytes
    outcome: asyncio.Future[AnswerOutcome] = field(repr=False)


@dataclass(slots=True)
class BatchStats:
    """How clicks were written: `batches` transactions holding `clicks` clicks; `fallbacks` batches that failed
    and were written click by click instead."""

    batches: int = 0
    clicks: int = 0
    fallbacks: int = 0


class SqlPulseStore:
    def __init__(
        self,
        engine: AsyncEngine,
        master_key: Secret[bytes],
        *,
        batch_limit: int = BATCH_LIMIT,
        batch_delay: float = BATCH_DELAY,
    ) -> None:
        self._engine = engine
        self._box = SecretBox(master_key, KEY_PURPOSE)
        self._sqlite = is_sqlite(str(engine.url))
        self._batch_limit = max(1, batch_limit)
        self._batch_delay = max(0.0, batch_delay)
        self._waiting: list[_Click] = []
        self._flusher: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stats = BatchStats()

    async def open_pulse(
        self,
        organisation_id: UUID,
        pulse_set_id: str,
        audience_group_id: UUID,
        opened_at: datetime,
        closes_at: datetime,
        tree: GroupTree,
        occurrence_id: UUID | None = None,
        answers: Sequence[tuple[str, str]] = (),
    ) -> Pulse:
        """A new round with a fresh random key; for an occurrence that already opened one, that round.

        `answers` (question, value) are the answers the round takes: a counter at 0 is created for each of them
        under every group of the audience, so that a click only ever adds to a row that is already there."""
        pulse_id = uuid.uuid4()
        audience = [audience_group_id, *(g.id for g in tree.descendants(audience_group_id))]
        counters = [
            _counter_row((organisation_id, pulse_id, group_id, question_id, value))
            for group_id in sorted(audience)
            for question_id, value in sorted(answers)
        ]
        sealed = self._box.encrypt(secrets.token_bytes(PULSE_KEY_BYTES), pulse_id.bytes)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(_pulse).values(
                        id=pulse_id,
                        organisation_id=organisation_id,
                        pulse_set_id=pulse_set_id,
                        audience_group_id=audience_group_id,
                        status=PulseStatus.OPEN.value,
                        opened_at=opened_at,
                        closes_at=closes_at,
                        tree=tree_to_json(tree),
                        occurrence_id=occurrence_id,
                    )
                )
                await conn.execute(
                    insert(_key).values(pulse_id=pulse_id, organisation_id=organisation_id, sealed=sealed)
                )
                if counters:
                    await conn.execute(insert(_counter), counters)
        except IntegrityError:
            existing = (
                await self.pulse_for_occurrence(organisation_id, occurrence_id) if occurrence_id else None
            )
            if existing is None:
                raise
            return existing
        if self._sqlite:
            # The counters in their places in the file before the first click: clicks only rewrite them there.
            await self._checkpoint()
        return await self.get_pulse(organisation_id, pulse_id)

    async def pulse_for_occurrence(self, organisation_id: UUID, occurrence_id: UUID) -> Pulse | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(_pulse).where(
                        and_(
                            _pulse.c.occurrence_id == occurrence_id,
                            _pulse.c.organisation_id == organisation_id,
                        )
                    )
                )
            ).first()
        return None if row is None else _to_pulse(row)

    async def set_management_channel(
        self, organisation_id: UUID, platform: Platform, workspace_id: str, channel_id: str
    ) -> None:
        """Where management summaries go on this platform (one channel per platform)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(_management).where(
                    and_(
                        _management.c.organisation_id == organisation_id,
                        _management.c.platform == platform.value,
                    )
                )
            )
            await conn.execute(
                insert(_management).values(
                    id=uuid.uuid4(),
                    organisation_id=organisation_id,
                    platform=platform.value,
                    workspace_id=workspace_id,
                    channel_id=channel_id,
                )
            )

    async def management_targets(self, organisation_id: UUID) -> list[Target]:
        """The management channels, and the DMs of management viewers who have a chat address."""
        async with self._engine.connect() as conn:
            channels = (
                await conn.execute(
                    select(_management).where(_management.c.organisation_id == organisation_id)
                )
            ).all()
            viewers = (
                await conn.execute(
                    select(_viewer.c.platform, _viewer.c.platform_user_id).where(
                        and_(
                            _viewer.c.organisation_id == organisation_id,
                            _viewer.c.platform.is_not(None),
                            _viewer.c.platform_user_id.is_not(None),
                        )
                    )
                )
            ).all()
            connections = (
                await conn.execute(
                    select(_connection.c.platform, _connection.c.workspace_id).where(
                        _connection.c.organisation_id == organisation_id
                    )
                )
            ).all()
        workspaces = {str(platform): str(workspace) for platform, workspace in connections}
        known = {p.value for p in Platform}
        targets = [
            Target(Platform(c.platform), c.workspace_id, TargetKind.CHANNEL, c.channel_id) for c in channels
        ]
        for platform, user in viewers:
            workspace = workspaces.get(str(platform))
            if workspace is not None and platform in known:
                targets.append(Target(Platform(platform), workspace, TargetKind.PERSON, str(user)))
        return targets

    async def get_pulse(self, organisation_id: UUID, pulse_id: UUID) -> Pulse:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(_pulse).where(
                        and_(_pulse.c.id == pulse_id, _pulse.c.organisation_id == organisation_id)
                    )
                )
            ).first()
        if row is None:
            raise NotFoundError("no such pulse in this organisation")
        return _to_pulse(row)

    async def _sealed_key(self, organisation_id: UUID, pulse_id: UUID) -> bytes | None:
        async with self._engine.connect() as conn:
            sealed = (
                await conn.execute(
                    select(_key.c.sealed).where(
                        and_(_key.c.pulse_id == pulse_id, _key.c.organisation_id == organisation_id)
                    )
                )
            ).scalar_one_or_none()
        return None if sealed is None else bytes(sealed)

    def _unseal(self, pulse_id: UUID, sealed: bytes) -> Secret[bytes]:
        return Secret(self._box.decrypt(sealed, pulse_id.bytes))

    @staticmethod
    def _hash(key: Secret[bytes], question_id: str, who: bytes) -> bytes:
        return keyed_hash(key, question_id.encode("utf-8") + b"\x00" + who)

    async def _participant_hash(
        self, organisation_id: UUID, pulse_id: UUID, question_id: str, who: bytes
    ) -> bytes | None:
        sealed = await self._sealed_key(organisation_id, pulse_id)
        if sealed is None:
            return None
        return self._hash(self._unseal(pulse_id, sealed), question_id, who)

    async def _is_open(self, pulse_id: UUID) -> bool:
        async with self._engine.connect() as conn:
            found = (await conn.execute(select(_key.c.pulse_id).where(_key.c.pulse_id == pulse_id))).first()
        return found is not None

    async def record_answer(
        self,
        organisation_id: UUID,
        pulse_id: UUID,
        question_id: str,
        group_id: UUID,
        value: str,
        participant: bytes,
    ) -> AnswerOutcome:
        """Record one click; returns once the transaction that holds it has committed.

        Clicks that arrive together share one transaction (see the module's docstring); each gets its own outcome.
        """
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A store used from another event loop (a command, a test) starts with an empty queue of its own.
            self._loop, self._waiting, self._flusher = loop, [], None
        click = _Click(
            organisation_id, pulse_id, question_id, group_id, value, participant, loop.create_future()
        )
        self._waiting.append(click)
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return await click.outcome

    async def _flush(self) -> None:
        """Write waiting clicks, a batch at a time, until none is left (then the next click starts a flush)."""
        batch: list[_Click] = []
        try:
            # At least one turn of the event loop, so the clicks that are ready now join the first batch.
            await asyncio.sleep(self._batch_delay)
            while self._waiting:
                taken = self._waiting[: self._batch_limit]
                del self._waiting[: self._batch_limit]
                # A click whose caller gave up before its batch started is not written.
                batch = [c for c in taken if not c.outcome.done()]
                if batch:
                    await self._settle(batch)
                batch = []
        except BaseException:
            for click in (*batch, *self._waiting):
                if not click.outcome.done():
                    click.outcome.cancel()
            self._waiting.clear()
            raise
        finally:
            self._flusher = None

    async def _settle(self, batch: list[_Click]) -> None:
        """Write one batch and hand every click its outcome; click by click if the batch fails."""
        try:
            outcomes = await self._write_batch(batch)
        except Exception as exc:
            # Rolled back whole: nothing of it was written (or, if the commit itself was lost on the way, the
            # participation rows refuse a second write). Each click again, in its own transaction.
            self.stats.fallbacks += 1
            log.warning(
                "pulse answers: a batch failed, writing its clicks one by one",
                clicks=len(batch),
                error=type(exc).__name__,
            )
            for click in batch:
                try:
                    outcome = await self._record_one(click)
                except Exception as one_failed:
                    if not click.outcome.done():
                        click.outcome.set_exception(one_failed)
                    continue
                if not click.outcome.done():
                    click.outcome.set_result(outcome)
            return
        self.stats.batches += 1
        self.stats.clicks += len(batch)
        for click, outcome in zip(batch, outcomes, strict=True):
            if not click.outcome.done():
                click.outcome.set_result(outcome)

    async def _record_one(self, click: _Click) -> AnswerOutcome:
        """The click on its own: read and unseal the key, hash, and the transaction of its two rows."""
        hashed = await self._participant_hash(
            click.organisation_id, click.pulse_id, click.question_id, click.participant
        )
        if hashed is None:
            return AnswerOutcome.CLOSED
        return await self.insert_answer(
            click.organisation_id, click.pulse_id, click.question_id, click.group_id, click.value, hashed
        )

    def _insert_participation(self) -> Any:
        """INSERT … ON CONFLICT (pulse, participant) DO NOTHING RETURNING the rows that went in.

        Executed with the batch's rows as parameters: SQLAlchemy sends them as multi-row VALUES, and one compiled
        statement serves every batch size."""
        dialect = sqlite if self._sqlite else postgresql
        return (
            dialect.insert(_participation)
            .on_conflict_do_nothing(index_elements=[_participation.c.pulse_id, _participation.c.participant])
            .returning(_participation.c.pulse_id, _participation.c.participant)
        )

    def _first_clicks(
        self,
        batch: Sequence[_Click],
        sealed: dict[tuple[UUID, UUID], bytes],
        outcomes: list[AnswerOutcome],
    ) -> dict[tuple[UUID, bytes], int]:
        """Each (round, participant hash) of the batch with the index of its first click. A later click on the same
        question by the same person is ALREADY_ANSWERED; a click whose round has no key stays CLOSED. The keys are
        unsealed here, once per round, and dropped when this returns."""
        keys = {where: self._unseal(where[1], value) for where, value in sealed.items()}
        first: dict[tuple[UUID, bytes], int] = {}
        for i, click in enumerate(batch):
            key = keys.get((click.organisation_id, click.pulse_id))
            if key is None:
                continue
            hashed = self._hash(key, click.question_id, click.participant)
            if (click.pulse_id, hashed) in first:
                outcomes[i] = AnswerOutcome.ALREADY_ANSWERED
            else:
                first[(click.pulse_id, hashed)] = i
        return first

    async def _write_batch(self, batch: Sequence[_Click]) -> list[AnswerOutcome]:
        """One transaction for the batch: each round's key read once, participation rows, then answer rows for
        the participation rows that went in. The outcomes are in the batch's order."""
        outcomes: list[AnswerOutcome] = [AnswerOutcome.CLOSED] * len(batch)
        rounds = {(c.organisation_id, c.pulse_id) for c in batch}
        async with one_writer(self._engine), self._engine.begin() as conn:
            # On PostgreSQL the lock (the one the participation rows' foreign key takes as well) keeps the key until
            # this transaction ends: a close waits for it, or has deleted the key already and the round's clicks
            # are CLOSED. On SQLite there is one writer at a time (`one_writer`, which the close takes too).
            found = await conn.execute(
                select(_key.c.organisation_id, _key.c.pulse_id, _key.c.sealed)
                .where(_key.c.pulse_id.in_(sorted({pulse for _, pulse in rounds})))
                .with_for_update(read=True, key_share=True)
            )
            sealed = {(org, pulse): bytes(key) for org, pulse, key in found if (org, pulse) in rounds}
            first = self._first_clicks(batch, sealed, outcomes)
            if not first:
                return outcomes
            # In one order (round, hash), so concurrent batches (other replicas) take the row locks alike.
            participation = [
                {"pulse_id": pulse, "organisation_id": batch[i].organisation_id, "participant": hashed}
                for (pulse, hashed), i in sorted(first.items())
            ]
            went_in = {
                (pulse, bytes(hashed))
                for pulse, hashed in await conn.execute(self._insert_participation(), participation)
            }
            added: dict[Cell, int] = {}
            for where, i in first.items():
                if where not in went_in:
                    outcomes[i] = AnswerOutcome.ALREADY_ANSWERED  # in an earlier batch, or by another replica
                    continue
                outcomes[i] = AnswerOutcome.RECORDED
                click = batch[i]
                cell = (click.organisation_id, click.pulse_id, click.group_id, click.question_id, click.value)
                added[cell] = added.get(cell, 0) + 1
            if added:
                await self._add_to_counters(conn, added)
        if self._sqlite:
            await self._checkpoint()
        return outcomes

    async def insert_answer(
        self,
        organisation_id: UUID,
        pulse_id: UUID,
        question_id: str,
        group_id: UUID,
        value: str,
        hashed: bytes,
    ) -> AnswerOutcome:
        """The transaction of one click on its own: participation row and answer row, both or neither."""
        try:
            async with one_writer(self._engine), self._engine.begin() as conn:
                await conn.execute(
                    insert(_participation).values(
                        pulse_id=pulse_id, organisation_id=organisation_id, participant=hashed
                    )
                )
                await self._add_to_counters(
                    conn, {(organisation_id, pulse_id, group_id, question_id, value): 1}
                )
        except IntegrityError:
            # Either this person answered this question already, or the round closed in between.
            return AnswerOutcome.ALREADY_ANSWERED if await self._is_open(pulse_id) else AnswerOutcome.CLOSED
        if self._sqlite:
            await self._checkpoint()
        return AnswerOutcome.RECORDED

    async def _add_to_counters(self, conn: AsyncConnection, added: dict[Cell, int]) -> None:
        """Add to the round's counters (created at open; a counter a round did not create goes in at its count)."""
        dialect = sqlite if self._sqlite else postgresql
        statement = dialect.insert(_counter)
        statement = statement.on_conflict_do_update(
            index_elements=[
                _counter.c.pulse_id,
                _counter.c.group_id,
                _counter.c.question_id,
                _counter.c.value,
            ],
            set_={"n": _counter.c.n + statement.excluded.n - COUNTER_BIAS},
        )
        await conn.execute(
            statement, [_counter_row(cell, n) for cell, n in sorted(added.items(), key=lambda kv: str(kv[0]))]
        )

    async def _checkpoint(self) -> None:
        """Fold the write-ahead log into the database file and empty it: the log would otherwise keep one page
        image per commit, i.e. the counters and participation rows in the order people clicked."""
        async with self._engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    async def close_pulse(self, organisation_id: UUID, pulse_id: UUID, closed_at: datetime) -> bool:
        """Destroy the key and every participation row, mark the round closed. False if it was closed already.

        On SQLite it takes its turn with the click batches (`one_writer`); on PostgreSQL deleting the key waits for
        a batch that holds it (key share lock) to commit, and deleting the key cascades to that batch's
        participation rows."""
        async with one_writer(self._engine), self._engine.begin() as conn:
            if self._sqlite:
                # Overwrite deleted key and participation rows in the file instead of leaving them in free pages.
                await conn.exec_driver_sql("PRAGMA secure_delete=ON")
            changed = await conn.execute(
                update(_pulse)
                .where(
                    and_(
                        _pulse.c.id == pulse_id,
                        _pulse.c.organisation_id == organisation_id,
                        _pulse.c.status == PulseStatus.OPEN.value,
                    )
                )
                .values(status=PulseStatus.CLOSED.value, closed_at=closed_at)
            )
            await conn.execute(
                delete(_participation).where(
                    and_(
                        _participation.c.pulse_id == pulse_id,
                        _participation.c.organisation_id == organisation_id,
                    )
                )
            )
            await conn.execute(
                delete(_key).where(
                    and_(_key.c.pulse_id == pulse_id, _key.c.organisation_id == organisation_id)
                )
            )
            if changed.rowcount:
                # The round's tally: what insights read from now on (after the key is gone, so every click that
                # made it in is counted and no other can follow).
                await self._write_tally(conn, organisation_id, pulse_id)
            # The counters go: after close nothing is left that was written click by click.
            await conn.execute(delete(_counter).where(_round_counters(organisation_id, pulse_id)))
        if self._sqlite:
            # Fold the write-ahead log into the file so no older page with participation rows stays behind.
            await self._checkpoint()
        return bool(changed.rowcount)

    @staticmethod
    async def _write_tally(conn: AsyncConnection, organisation_id: UUID, pulse_id: UUID) -> None:
        rows = await conn.execute(
            select(_counter.c.group_id, _counter.c.question_id, _counter.c.value, _counter.c.n).where(
                _round_counters(organisation_id, pulse_id), _counter.c.n > COUNTER_BIAS
            )
        )
        per_group: dict[UUID, dict[str, dict[str, int]]] = {}
        for group_id, question_id, value, n in rows:
            per_group.setdefault(group_id, {}).setdefault(question_id, {})[value] = _count_of(n)
        if per_group:
            await conn.execute(
                insert(_tally),
                [
                    {
                        "pulse_id": pulse_id,
                        "organisation_id": organisation_id,
                        "group_id": group_id,
                        "counts": json.dumps(counts, sort_keys=True, separators=(",", ":")),
                    }
                    for group_id, counts in sorted(per_group.items())
                ],
            )

    async def due_for_close(self, moment: datetime) -> list[Pulse]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_pulse).where(
                    and_(_pulse.c.status == PulseStatus.OPEN.value, _pulse.c.closes_at <= moment)
                )
            )
            return [_to_pulse(r) for r in rows]

    async def rounds(self, organisation_id: UUID, pulse_set_id: str) -> list[Pulse]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_pulse)
                .where(
                    and_(_pulse.c.organisation_id == organisation_id, _pulse.c.pulse_set_id == pulse_set_id)
                )
                .order_by(_pulse.c.opened_at, _pulse.c.id)
            )
            return [_to_pulse(r) for r in rows]

    async def pulse_set_ids(self, organisation_id: UUID) -> list[str]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_pulse.c.pulse_set_id).where(_pulse.c.organisation_id == organisation_id).distinct()
            )
            return sorted(r[0] for r in rows)

    async def claim_monthly(self, organisation_id: UUID, pulse_set_id: str, month: str) -> bool:
        """True for the one caller (of any replica) that may send this month's overview."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(_monthly).values(
                        organisation_id=organisation_id, pulse_set_id=pulse_set_id, month=month
                    )
                )
        except IntegrityError:
            return False
        return True

    async def closed_without_summary(self) -> list[Pulse]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_pulse).where(
                    and_(_pulse.c.status == PulseStatus.CLOSED.value, _pulse.c.summary_sent_at.is_(None))
                )
            )
            return [_to_pulse(r) for r in rows]

    async def mark_summary_sent(self, organisation_id: UUID, pulse_id: UUID, moment: datetime) -> bool:
        async with self._engine.begin() as conn:
            changed = await conn.execute(
                update(_pulse)
                .where(
                    and_(
                        _pulse.c.id == pulse_id,
                        _pulse.c.organisation_id == organisation_id,
                        _pulse.c.summary_sent_at.is_(None),
                    )
                )
                .values(summary_sent_at=moment)
            )
        return bool(changed.rowcount)

    async def group_for_channel(
        self, organisation_id: UUID, platform: Platform, workspace_id: str, channel_id: str
    ) -> UUID | None:
        """The group a channel is bound to in this organisation, if any."""
        async with self._engine.connect() as conn:
            found = (
                await conn.execute(
                    select(_binding.c.group_id).where(
                        and_(
                            _binding.c.organisation_id == organisation_id,
                            _binding.c.platform == platform.value,
                            _binding.c.workspace_id == workspace_id,
                            _binding.c.channel_id == channel_id,
                        )
                    )
                )
            ).scalar_one_or_none()
        return found if isinstance(found, UUID) else None

    async def organisation_for(self, platform: Platform, workspace_id: str) -> UUID | None:
        """The organisation a Slack workspace or Teams tenant belongs to."""
        async with self._engine.connect() as conn:
            found = (
                await conn.execute(
                    select(_connection.c.organisation_id).where(
                        and_(
                            _connection.c.platform == platform.value,
                            _connection.c.workspace_id == workspace_id,
                        )
                    )
                )
            ).scalar_one_or_none()
        return found if isinstance(found, UUID) else None

    async def tallies(self, organisation_id: UUID, pulse_ids: Sequence[UUID]) -> RoundCounts:
        """The tallies of closed rounds: per round, per group and question, answers per value."""
        ids = list(pulse_ids)
        if not ids:
            return {}
        # The id columns are read raw and turned into UUIDs once per distinct value, not once per row.
        pulse_col = type_coerce(_tally.c.pulse_id, String()).label("pulse_id")
        group_col = type_coerce(_tally.c.group_id, String()).label("group_id")
        query = select(pulse_col, group_col, _tally.c.counts).where(
            and_(_tally.c.organisation_id == organisation_id, _tally.c.pulse_id.in_(ids))
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        memo: dict[object, UUID] = {}

        def as_uuid(raw: object) -> UUID:
            found = memo.get(raw)
            if found is None:
                found = memo[raw] = raw if type(raw) is UUID else UUID(str(raw))
            return found

        # Every row's JSON (written by `_write_tally`) decoded in one pass rather than one parse per row.
        decoded = json.loads("[" + ",".join(row[2] for row in rows) + "]") if rows else []
        result: dict[UUID, dict[UUID, dict[str, dict[str, int]]]] = {}
        for (raw_pulse, raw_group, _), counts in zip(rows, decoded, strict=True):
            result.setdefault(as_uuid(raw_pulse), {})[as_uuid(raw_group)] = counts
        return result

    async def cell_counts(self, organisation_id: UUID, pulse_ids: Sequence[UUID]) -> list[AnswerCount]:
        """The same tallies, one row per round, group, question and value."""
        return [
            AnswerCount(pulse_id, group_id, question_id, value, n)
            for pulse_id, groups in (await self.tallies(organisation_id, pulse_ids)).items()
            for group_id, questions in groups.items()
            for question_id, values in questions.items()
            for value, n in values.items()
        ]

    # --- releases: the published figures and the privacy accountant's ledger ----------------------------

    async def releases(self, organisation_id: UUID, pulse_set_id: str) -> list[Release]:
        """The stored releases of a pulse set, oldest period first. Reading them spends nothing."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_release)
                .where(
                    and_(
                        _release.c.organisation_id == organisation_id,
                        _release.c.pulse_set_id == pulse_set_id,
                    )
                )
                .order_by(_release.c.period)
            )
            return [_to_release(r) for r in rows]

    async def ledger(self, organisation_id: UUID, period: str) -> list[Spend]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_release.c.period, _release.c.pulse_set_id, _release.c.epsilon).where(
                    and_(_release.c.organisation_id == organisation_id, _release.c.period == period)
                )
            )
            return [Spend(p, s, float(e)) for p, s, e in rows]

    async def successors(self, organisation_id: UUID) -> dict[UUID, UUID]:
        """Merged groups and the group each went into."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_lineage.c.group_id, _lineage.c.related_id).where(
                    and_(_lineage.c.organisation_id == organisation_id, _lineage.c.operation == "merged")
                )
            )
            return {UUID(str(g)): UUID(str(r)) for g, r in rows.all()}

    async def save_release(self, organisation_id: UUID, release: Release) -> bool:
        """Store a release once (False if this period of the pulse set is out already), charging its ε.

        The ledger is read again under a lock on the organisation's row, so two releases of one period (other
        pulse sets, other replicas) cannot together go past the budget: the later one is refused."""
        async with one_writer(self._engine), self._engine.begin() as conn:
            await conn.execute(
                select(_organisation.c.id).where(_organisation.c.id == organisation_id).with_for_update()
            )
            spent = await conn.execute(
                select(_release.c.period, _release.c.pulse_set_id, _release.c.epsilon).where(
                    and_(_release.c.organisation_id == organisation_id, _release.c.period == release.period)
                )
            )
            ledger = [Spend(p, s, float(e)) for p, s, e in spent]
            if any(s.pulse_set_id == release.pulse_set_id for s in ledger):
                return False
            if release.epsilon > 0:
                charge(ledger, Spend(release.period, release.pulse_set_id, release.epsilon))
            await conn.execute(
                insert(_release).values(
                    organisation_id=organisation_id,
                    pulse_set_id=release.pulse_set_id,
                    period=release.period,
                    released_at=release.released_at,
                    epsilon=release.epsilon,
                    rounds=release.rounds,
                    tree=tree_to_json(release.tree),
                    cells=_cells_to_json(release.cells),
                )
            )
        return True

    async def releases_without_summary(self) -> list[tuple[UUID, str, str]]:
        """(organisation, pulse set, period) of releases whose summary was not sent yet."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_release.c.organisation_id, _release.c.pulse_set_id, _release.c.period).where(
                    _release.c.summary_sent_at.is_(None)
                )
            )
            return [(o, s, p) for o, s, p in rows]

    async def mark_release_sent(
        self, organisation_id: UUID, pulse_set_id: str, period: str, moment: datetime
    ) -> bool:
        """True for the one caller (of any replica) that sends this release's summary."""
        async with self._engine.begin() as conn:
            changed = await conn.execute(
                update(_release)
                .where(
                    and_(
                        _release.c.organisation_id == organisation_id,
                        _release.c.pulse_set_id == pulse_set_id,
                        _release.c.period == period,
                        _release.c.summary_sent_at.is_(None),
                    )
                )
                .values(summary_sent_at=moment)
            )
        return bool(changed.rowcount)

    async def organisation_ids(self) -> list[UUID]:
        """Organisations that have pulse rounds."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(_pulse.c.organisation_id).distinct())
            return sorted(r[0] for r in rows)


def _cells_to_json(cells: Sequence[StoredCell]) -> str:
    return json.dumps(
        [
            {
                "g": str(c.group_id),
                "v": c.visibility.value,
                "i": list(c.index_counts) if c.index_counts is not None else None,
                "is": c.index_scale,
                # question ids and their counts side by side: read back without a Python loop per question
                "t": [[q for q, _ in c.table], [list(ns) for _, ns in c.table]]
                if c.table is not None
                else None,
                "ts": c.table_scale,
            }
            for c in cells
        ],
        separators=(",", ":"),
    )


def _cells_from_json(raw: str) -> tuple[StoredCell, ...]:
    return tuple(
        StoredCell(
            UUID(item["g"]),
            Visibility(item["v"]),
            (item["i"][0], item["i"][1]) if item["i"] is not None else None,
            float(item["is"]),
            tuple(zip(item["t"][0], map(tuple, item["t"][1]), strict=True))
            if item["t"] is not None
            else None,
            float(item["ts"]),
        )
        for item in json.loads(raw)
    )


def _to_release(row: Row[Any]) -> Release:
    m = row._mapping
    return Release(
        pulse_set_id=m["pulse_set_id"],
        period=m["period"],
        released_at=_aware(m["released_at"]),
        tree=tree_from_json(m["tree"]),
        epsilon=float(m["epsilon"]),
        rounds=int(m["rounds"]),
        cells=_cells_from_json(m["cells"]),
    )


def master_key_from(secret_key: str) -> Secret[bytes]:
    """The service's secret key as key material for the pulse-key box."""
    return Secret(secret_key.encode("utf-8"))

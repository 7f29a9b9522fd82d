"""The SQL implementation of the PulseStore port, and the one query insights read answers through.

The answer click is one short transaction of two INSERTs: the participation row (primary key on pulse and
HMAC(pulse key, question, person)) and the answer row. A second click by the same person hits the primary key
and rolls back both; a click after close hits the foreign key to the deleted pulse key and rolls back both.
That holds under any concurrency, on SQLite (one writer at a time) and PostgreSQL (row locks on the key).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import String, and_, delete, func, insert, select, text, type_coerce, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain.delivery import Target, TargetKind
from bot.domain.insights import AnswerCount, RoundCounts
from bot.domain.pulses import AnswerOutcome, Pulse, PulseStatus, tree_from_json, tree_to_json
from bot.domain.tenancy import GroupTree, Platform
from bot.errors import NotFoundError
from bot.security import Secret, SecretBox, keyed_hash
from bot.storage.db import is_sqlite, one_writer
from bot.storage.tables import ChannelBindingRow, ManagementViewerRow, PlatformConnectionRow
from bot.storage.tables_pulses import (
    ManagementChannelRow,
    PulseAnswerRow,
    PulseKeyRow,
    PulseMonthlyRow,
    PulseParticipationRow,
    PulseRow,
    PulseTallyRow,
)

KEY_PURPOSE = "pulse-key"
PULSE_KEY_BYTES = 32

_pulse = PulseRow.__table__  # type: ignore[attr-defined]
_key = PulseKeyRow.__table__  # type: ignore[attr-defined]
_participation = PulseParticipationRow.__table__  # type: ignore[attr-defined]
_answer = PulseAnswerRow.__table__  # type: ignore[attr-defined]
_binding = ChannelBindingRow.__table__  # type: ignore[attr-defined]
_connection = PlatformConnectionRow.__table__  # type: ignore[attr-defined]
_viewer = ManagementViewerRow.__table__  # type: ignore[attr-defined]
_management = ManagementChannelRow.__table__  # type: ignore[attr-defined]
_tally = PulseTallyRow.__table__  # type: ignore[attr-defined]
_monthly = PulseMonthlyRow.__table__  # type: ignore[attr-defined]


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


class SqlPulseStore:
    def __init__(self, engine: AsyncEngine, master_key: Secret[bytes]) -> None:
        self._engine = engine
        self._box = SecretBox(master_key, KEY_PURPOSE)
        self._sqlite = is_sqlite(str(engine.url))

    async def open_pulse(
        self,
        organisation_id: UUID,
        pulse_set_id: str,
        audience_group_id: UUID,
        opened_at: datetime,
        closes_at: datetime,
        tree: GroupTree,
        occurrence_id: UUID | None = None,
    ) -> Pulse:
        """A new round with a fresh random key; for an occurrence that already opened one, that round."""
        pulse_id = uuid.uuid4()
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
        except IntegrityError:
            existing = (
                await self.pulse_for_occurrence(organisation_id, occurrence_id) if occurrence_id else None
            )
            if existing is None:
                raise
            return existing
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

    async def _participant_hash(
        self, organisation_id: UUID, pulse_id: UUID, question_id: str, who: bytes
    ) -> bytes | None:
        async with self._engine.connect() as conn:
            sealed = (
                await conn.execute(
                    select(_key.c.sealed).where(
                        and_(_key.c.pulse_id == pulse_id, _key.c.organisation_id == organisation_id)
                    )
                )
            ).scalar_one_or_none()
        if sealed is None:
            return None
        key = Secret(self._box.decrypt(sealed, pulse_id.bytes))
        return keyed_hash(key, question_id.encode("utf-8") + b"\x00" + who)

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
        hashed = await self._participant_hash(organisation_id, pulse_id, question_id, participant)
        if hashed is None:
            return AnswerOutcome.CLOSED
        return await self.insert_answer(organisation_id, pulse_id, question_id, group_id, value, hashed)

    async def insert_answer(
        self,
        organisation_id: UUID,
        pulse_id: UUID,
        question_id: str,
        group_id: UUID,
        value: str,
        hashed: bytes,
    ) -> AnswerOutcome:
        """The one transaction of a click: participation row and answer row, both or neither."""
        try:
            async with one_writer(self._engine), self._engine.begin() as conn:
                await conn.execute(
                    insert(_participation).values(
                        pulse_id=pulse_id, organisation_id=organisation_id, participant=hashed
                    )
                )
                await conn.execute(
                    insert(_answer).values(
                        id=uuid.uuid4(),
                        organisation_id=organisation_id,
                        pulse_id=pulse_id,
                        question_id=question_id,
                        group_id=group_id,
                        value=value,
                    )
                )
        except IntegrityError:
            # Either this person answered this question already, or the round closed in between.
            return AnswerOutcome.ALREADY_ANSWERED if await self._is_open(pulse_id) else AnswerOutcome.CLOSED
        return AnswerOutcome.RECORDED

    async def close_pulse(self, organisation_id: UUID, pulse_id: UUID, closed_at: datetime) -> bool:
        """Destroy the key and every participation row, mark the round closed. False if it was closed already."""
        async with self._engine.begin() as conn:
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
            if not self._sqlite and changed.rowcount:
                # PostgreSQL keeps rows in arrival order on disk; rewrite the round's answers in the order of
                # fresh random ids, so the physical order says nothing about who clicked when.
                await conn.execute(
                    text(
                        "WITH moved AS (DELETE FROM pulse_answer WHERE pulse_id = :pulse AND organisation_id = :org "
                        "RETURNING *) "
                        "INSERT INTO pulse_answer (id, organisation_id, pulse_id, question_id, group_id, value) "
                        "SELECT gen_random_uuid(), organisation_id, pulse_id, question_id, group_id, value "
                        "FROM moved ORDER BY 1"
                    ),
                    {"pulse": pulse_id, "org": organisation_id},
                )
        if self._sqlite:
            # Fold the write-ahead log into the file so no older page with participation rows stays behind.
            async with self._engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return bool(changed.rowcount)

    @staticmethod
    async def _write_tally(conn: AsyncConnection, organisation_id: UUID, pulse_id: UUID) -> None:
        keys = (_answer.c.group_id, _answer.c.question_id, _answer.c.value)
        rows = await conn.execute(
            select(*keys, func.count())
            .where(and_(_answer.c.pulse_id == pulse_id, _answer.c.organisation_id == organisation_id))
            .group_by(*keys)
        )
        per_group: dict[UUID, dict[str, dict[str, int]]] = {}
        for group_id, question_id, value, count in rows:
            per_group.setdefault(group_id, {}).setdefault(question_id, {})[value] = int(count)
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
                    for group_id, counts in per_group.items()
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


def master_key_from(secret_key: str) -> Secret[bytes]:
    """The service's secret key as key material for the pulse-key box."""
    return Secret(secret_key.encode("utf-8"))

"""The member directory as a platform's member source fills it: whole-workspace syncs and single changes.

A sync writes what the platform listed (address and locale of everyone who counts as a member) and marks every
other person of that workspace inactive; a single change (someone joined, changed, was deactivated) touches one
row. `member_sync` lets one replica claim a workspace's sync, so replicas do not all page through the same
workspace. People who belong to another organisation's row are never moved over.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import and_, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.domain.tenancy import Platform
from bot.storage.tables import PlatformConnectionRow
from bot.storage.tables_members import MemberSyncRow
from bot.storage.tables_outreach import OutreachMemberRow

_CHUNK = 500
LOCALE_MAX = 8
STUCK_SYNC = timedelta(minutes=15)  # a sync started this long ago and never finished may be taken over


def _insert(engine: AsyncEngine) -> Any:
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert


class SqlMemberSource:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def put(
        self, organisation_id: UUID, platform: Platform, workspace: str, people: Mapping[str, str | None]
    ) -> None:
        """Add or reactivate these people (address → locale); a known locale is kept when none is given."""
        insert = _insert(self._engine)
        items = list(people.items())
        for start in range(0, len(items), _CHUNK):
            values = [
                {
                    "id": uuid4(),
                    "organisation_id": organisation_id,
                    "platform": platform.value,
                    "workspace_id": workspace,
                    "address": address,
                    "locale": (locale or None) and locale[:LOCALE_MAX],
                    "active": True,
                }
                for address, locale in items[start : start + _CHUNK]
            ]
            statement = insert(OutreachMemberRow).values(values)
            table = OutreachMemberRow.__table__  # type: ignore[attr-defined]
            statement = statement.on_conflict_do_update(
                index_elements=["platform", "workspace_id", "address"],
                set_={
                    "active": True,
                    "locale": _coalesce(statement.excluded.locale, table.c.locale),
                },
                where=table.c.organisation_id == statement.excluded.organisation_id,
            )
            async with self._engine.begin() as connection:
                await connection.execute(statement)

    async def leave(
        self, organisation_id: UUID, platform: Platform, workspace: str, addresses: list[str]
    ) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(OutreachMemberRow)
                .where(
                    col(OutreachMemberRow.organisation_id) == organisation_id,
                    col(OutreachMemberRow.platform) == platform.value,
                    col(OutreachMemberRow.workspace_id) == workspace,
                    col(OutreachMemberRow.address).in_(addresses),
                )
                .values(active=False)
            )

    async def replace(
        self, organisation_id: UUID, platform: Platform, workspace: str, people: Mapping[str, str | None]
    ) -> int:
        """The workspace's members are exactly `people` now; returns how many others left the directory."""
        await self.put(organisation_id, platform, workspace, people)
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(col(OutreachMemberRow.address)).where(
                    col(OutreachMemberRow.organisation_id) == organisation_id,
                    col(OutreachMemberRow.platform) == platform.value,
                    col(OutreachMemberRow.workspace_id) == workspace,
                    col(OutreachMemberRow.active).is_(True),
                )
            )
            gone = [str(r[0]) for r in rows if r[0] not in people]
        for start in range(0, len(gone), _CHUNK):
            await self.leave(organisation_id, platform, workspace, gone[start : start + _CHUNK])
        return len(gone)

    async def linked(self, platform: Platform) -> list[tuple[UUID, str]]:
        """(organisation, workspace) of every linked workspace of the platform."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(
                    col(PlatformConnectionRow.organisation_id), col(PlatformConnectionRow.workspace_id)
                ).where(col(PlatformConnectionRow.platform) == platform.value)
            )
            return [(r[0], str(r[1])) for r in rows]

    async def claim_sync(
        self, organisation_id: UUID, platform: Platform, workspace: str, now: datetime, every: timedelta
    ) -> bool:
        """Whether this replica should sync the workspace now (never synced, or last synced `every` ago, and
        nobody else started within the last `every`); claims it when so."""
        insert = _insert(self._engine)
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(MemberSyncRow)
                .values(
                    platform=platform.value,
                    workspace_id=workspace,
                    organisation_id=organisation_id,
                    members=0,
                )
                .on_conflict_do_nothing()
            )
            result = await connection.execute(
                update(MemberSyncRow)
                .where(
                    col(MemberSyncRow.platform) == platform.value,
                    col(MemberSyncRow.workspace_id) == workspace,
                    or_(col(MemberSyncRow.synced_at).is_(None), col(MemberSyncRow.synced_at) <= now - every),
                    or_(
                        col(MemberSyncRow.started_at).is_(None),
                        col(MemberSyncRow.started_at) <= now - STUCK_SYNC,
                        and_(
                            col(MemberSyncRow.synced_at).is_not(None),
                            col(MemberSyncRow.started_at) <= col(MemberSyncRow.synced_at),
                        ),
                    ),
                )
                .values(started_at=now, organisation_id=organisation_id)
            )
            return bool(result.rowcount)

    async def synced(self, platform: Platform, workspace: str, now: datetime, members: int) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(MemberSyncRow)
                .where(
                    col(MemberSyncRow.platform) == platform.value,
                    col(MemberSyncRow.workspace_id) == workspace,
                )
                .values(synced_at=now, members=members)
            )


def _coalesce(first: Any, second: Any) -> Any:
    from sqlalchemy import func

    return func.coalesce(first, second)

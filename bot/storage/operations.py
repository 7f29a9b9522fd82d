"""Queries the operator's tools need (`vipbot doctor`, `vipbot backup`) that no feature repository answers."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.domain.tenancy import Platform
from bot.storage.db import session_factory
from bot.storage.tables import PlatformConnectionRow


async def linked_workspaces(engine: AsyncEngine, platform: Platform) -> list[tuple[UUID, str]]:
    """(organisation id, workspace or tenant id) of every link to `platform`, in a stable order."""
    async with session_factory(engine)() as session:
        rows = (
            await session.exec(
                select(PlatformConnectionRow)
                .where(col(PlatformConnectionRow.platform) == platform.value)
                .order_by(col(PlatformConnectionRow.workspace_id))
            )
        ).all()
    return [(row.organisation_id, row.workspace_id) for row in rows]

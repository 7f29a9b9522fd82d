"""Keeping Slack channel bindings right when channels are renamed, archived, deleted or the bot leaves."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.tenancy import Platform
from bot.storage.db import transaction
from bot.storage.tables import ChannelBindingRow


class SqlSlackChannelBindings:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _set(self, organisation_id: UUID, workspace_id: str, channel_id: str, **values: Any) -> int:
        async with transaction(self._sessions) as session:
            result = await session.exec(
                update(ChannelBindingRow)
                .where(
                    col(ChannelBindingRow.organisation_id) == organisation_id,
                    col(ChannelBindingRow.platform) == Platform.SLACK.value,
                    col(ChannelBindingRow.workspace_id) == workspace_id,
                    col(ChannelBindingRow.channel_id) == channel_id,
                )
                .values(**values)
            )
            return int(result.rowcount)

    async def renamed(self, organisation_id: UUID, workspace_id: str, channel_id: str, name: str) -> int:
        return await self._set(organisation_id, workspace_id, channel_id, channel_name=name[:200])

    async def set_usable(
        self, organisation_id: UUID, workspace_id: str, channel_id: str, usable: bool
    ) -> int:
        """Archived, deleted or left by the bot → not usable (`archived`); unarchived or rejoined → usable."""
        return await self._set(organisation_id, workspace_id, channel_id, archived=not usable)

"""Enterprise Grid: the workspaces an org-wide install serves, each linked to the install's organisation."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.storage.slack_installations import SqlSlackInstallations
from bot.storage.tables_members import SlackGridWorkspaceRow


class SqlSlackGrid:
    def __init__(self, engine: AsyncEngine, installations: SqlSlackInstallations) -> None:
        self._engine = engine
        self._installations = installations

    async def map(self, organisation_id: UUID, enterprise_id: str, teams: Iterable[str]) -> int:
        """Record the grid's workspaces and link each to the organisation; returns how many were new."""
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        new = 0
        for team in teams:
            async with self._engine.begin() as connection:
                statement = insert(SlackGridWorkspaceRow).values(
                    team_id=team, enterprise_id=enterprise_id, organisation_id=organisation_id
                )
                await connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=["team_id"],
                        set_={"enterprise_id": enterprise_id, "organisation_id": organisation_id},
                    )
                )
            new += await self._installations.link(organisation_id, team)
        return new

    async def enterprise_of(self, team_id: str) -> str | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(col(SlackGridWorkspaceRow.enterprise_id)).where(
                        col(SlackGridWorkspaceRow.team_id) == team_id
                    )
                )
            ).first()
        return str(row[0]) if row is not None else None

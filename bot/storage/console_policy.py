"""Per-organisation sign-in policy of the console: whether management viewers must use a second factor."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.storage.db import session_factory, transaction
from bot.storage.tables_console import ConsoleOrganisationPolicyRow


class SqlConsolePolicy:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)

    async def requires_totp(self, organisation_id: UUID) -> bool:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(ConsoleOrganisationPolicyRow).where(
                        col(ConsoleOrganisationPolicyRow.organisation_id) == organisation_id
                    )
                )
            ).first()
        return row is not None and row.require_totp

    async def set_requires_totp(self, organisation_id: UUID, required: bool) -> None:
        async with transaction(self._sessions) as session:
            row = await session.get(ConsoleOrganisationPolicyRow, organisation_id)
            if row is None:
                row = ConsoleOrganisationPolicyRow(organisation_id=organisation_id)
            row.require_totp = required
            session.add(row)

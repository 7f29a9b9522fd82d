"""Server-side state of portal sessions: what makes "sign out on this device" final.

A row is keyed by the SHA-256 of a random token that only the browser's cookie holds; it names the organisation
and the hour at which the session ends at the latest. Requests never update it (an update per request would
record when the employee acted). Signing out, erasing the conversation and expiry delete it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.storage.db import session_factory, transaction
from bot.storage.tables_conversations import PortalSessionRow


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


def end_of_hour(moment: datetime) -> datetime:
    start = moment.replace(minute=0, second=0, microsecond=0)
    return start + timedelta(hours=1)


class SqlPortalSessions:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)

    async def begin(
        self, organisation_id: UUID, now: datetime, lifetime: timedelta, *, reveal_code: bool = False
    ) -> str:
        """A new session; returns the token for the cookie. Sessions past their end are removed here."""
        token = secrets.token_urlsafe(32)
        async with transaction(self._sessions) as session:
            await session.exec(delete(PortalSessionRow).where(col(PortalSessionRow.expires_at) < now))
            session.add(
                PortalSessionRow(
                    token_hash=_hash(token),
                    organisation_id=organisation_id,
                    expires_at=end_of_hour(now + lifetime),
                    reveal_code=reveal_code,
                )
            )
        return token

    async def alive(self, token: str, organisation_id: UUID, now: datetime) -> bool:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(PortalSessionRow).where(col(PortalSessionRow.token_hash) == _hash(token))
                )
            ).first()
        return row is not None and row.organisation_id == organisation_id and _aware(row.expires_at) > now

    async def take_code_reveal(self, token: str) -> bool:
        """True once: the receipt code of a session just started may be shown."""
        async with transaction(self._sessions) as session:
            result = await session.exec(
                update(PortalSessionRow)
                .where(col(PortalSessionRow.token_hash) == _hash(token))
                .where(col(PortalSessionRow.reveal_code).is_(True))
                .values(reveal_code=False)
            )
            return bool(result.rowcount)

    async def end(self, token: str) -> None:
        async with transaction(self._sessions) as session:
            await session.exec(
                delete(PortalSessionRow).where(col(PortalSessionRow.token_hash) == _hash(token))
            )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

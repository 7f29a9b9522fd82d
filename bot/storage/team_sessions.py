"""Team sessions and their sign-ups in SQL.

A sign-up row holds HMAC(per-session key, platform:workspace:user) and nothing else: no platform user id, no
timestamp. The per-session key is derived from the service's secret key, so the same person always maps to the
same row (they can see and withdraw their own sign-up), while the database alone reveals only a count.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.home import UpcomingSession
from bot.domain.outreach import Audience
from bot.domain.team_sessions import SignupState, TeamSession
from bot.errors import NotFoundError
from bot.security.secret import Secret
from bot.security.secretbox import derive_key, keyed_hash
from bot.storage.db import transaction
from bot.storage.tables import PlatformConnectionRow
from bot.storage.tables_outreach import TeamSessionRow, TeamSessionSignupRow


def _session(row: TeamSessionRow) -> TeamSession:
    return TeamSession(
        id=row.id,
        organisation_id=row.organisation_id,
        title=row.title,
        description=row.description,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        place=row.place,
        online_url=row.online_url,
        audience=Audience.from_json(row.audience),
        locale=row.locale,
        cancelled=row.cancelled,
    )


class SqlTeamSessionStore:
    """TeamSessionStore and SessionCalendar (the Home tab's "coming sessions") on the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], master_key: Secret[bytes]) -> None:
        self._sessions = sessions
        self._master = master_key

    def person_key(self, session_id: UUID, person: str) -> str:
        key = derive_key(self._master, f"vipbot/session-signup/{session_id}")
        return keyed_hash(key, person.encode()).hex()

    async def session_for_member(
        self, platform: str, workspace_id: str, session_id: UUID
    ) -> TeamSession | None:
        """The session, when the clicking person's workspace belongs to the session's organisation (else None)."""
        async with self._sessions() as db:
            connection = (
                await db.exec(
                    select(PlatformConnectionRow).where(
                        col(PlatformConnectionRow.platform) == platform,
                        col(PlatformConnectionRow.workspace_id) == workspace_id,
                    )
                )
            ).first()
        if connection is None:
            return None
        return await self.get(connection.organisation_id, session_id)

    async def add(self, session: TeamSession) -> TeamSession:
        session.check()
        async with transaction(self._sessions) as db:
            db.add(
                TeamSessionRow(
                    id=session.id,
                    organisation_id=session.organisation_id,
                    title=session.title,
                    description=session.description,
                    starts_at=session.starts_at,
                    ends_at=session.ends_at,
                    place=session.place,
                    online_url=session.online_url,
                    audience=session.audience.to_json(),
                    locale=session.locale,
                )
            )
        return session

    async def get(self, organisation_id: UUID, session_id: UUID) -> TeamSession | None:
        async with self._sessions() as db:
            row = await db.get(TeamSessionRow, session_id)
        if row is None or row.organisation_id != organisation_id:
            return None
        return _session(row)

    async def find(self, session_id: UUID) -> TeamSession | None:
        """A session by id alone, for the public .ics link (the id is random and carries nothing personal)."""
        async with self._sessions() as db:
            row = await db.get(TeamSessionRow, session_id)
        return None if row is None else _session(row)

    async def list_sessions(
        self, organisation_id: UUID, after: datetime | None = None
    ) -> list[tuple[TeamSession, int]]:
        async with self._sessions() as db:
            query = select(TeamSessionRow).where(col(TeamSessionRow.organisation_id) == organisation_id)
            if after is not None:
                query = query.where(col(TeamSessionRow.ends_at) > after)
            rows = (await db.exec(query.order_by(col(TeamSessionRow.starts_at)))).all()
        return [(_session(r), await self.count(organisation_id, r.id)) for r in rows]

    async def cancel(self, organisation_id: UUID, session_id: UUID) -> TeamSession:
        async with transaction(self._sessions) as db:
            row = await db.get(TeamSessionRow, session_id)
            if row is None or row.organisation_id != organisation_id:
                raise NotFoundError(f"no session {session_id} in this organisation")
            row.cancelled = True
            db.add(row)
            return _session(row)

    async def count(self, organisation_id: UUID, session_id: UUID) -> int:
        async with self._sessions() as db:
            result = await db.exec(
                select(func.count())
                .select_from(TeamSessionSignupRow)
                .join(TeamSessionRow, col(TeamSessionRow.id) == col(TeamSessionSignupRow.session_id))
                .where(
                    col(TeamSessionRow.organisation_id) == organisation_id,
                    col(TeamSessionSignupRow.session_id) == session_id,
                )
            )
            return int(result.one())

    async def _require_open(self, organisation_id: UUID, session_id: UUID) -> None:
        session = await self.get(organisation_id, session_id)
        if session is None:
            raise NotFoundError(f"no session {session_id} in this organisation")

    async def sign_up(self, organisation_id: UUID, session_id: UUID, person: str) -> SignupState:
        """Idempotent: signing up twice (a double click, a replayed request) counts once."""
        await self._require_open(organisation_id, session_id)
        key = self.person_key(session_id, person)
        try:
            async with transaction(self._sessions) as db:
                if await db.get(TeamSessionSignupRow, (session_id, key)) is None:
                    db.add(TeamSessionSignupRow(session_id=session_id, person=key))
        except IntegrityError:
            pass  # a concurrent click of the same person won the race: same outcome
        return await self.state(organisation_id, session_id, person)

    async def withdraw(self, organisation_id: UUID, session_id: UUID, person: str) -> SignupState:
        await self._require_open(organisation_id, session_id)
        key = self.person_key(session_id, person)
        async with transaction(self._sessions) as db:
            await db.exec(
                delete(TeamSessionSignupRow).where(
                    col(TeamSessionSignupRow.session_id) == session_id,
                    col(TeamSessionSignupRow.person) == key,
                )
            )
        return await self.state(organisation_id, session_id, person)

    async def state(self, organisation_id: UUID, session_id: UUID, person: str | None) -> SignupState:
        signed_up = False
        if person is not None:
            async with self._sessions() as db:
                key = self.person_key(session_id, person)
                signed_up = await db.get(TeamSessionSignupRow, (session_id, key)) is not None
        return SignupState(count=await self.count(organisation_id, session_id), signed_up=signed_up)

    async def upcoming(self, organisation_id: UUID, now: datetime, limit: int) -> list[UpcomingSession]:
        listed = [(s, n) for s, n in await self.list_sessions(organisation_id, after=now) if not s.cancelled]
        return [
            UpcomingSession(
                id=s.id,
                title=s.title_text,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                place=s.place,
                online_url=s.online_url,
                signups=n,
            )
            for s, n in listed[:limit]
        ]

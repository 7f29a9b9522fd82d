"""What the bot shows on its "front door" in any platform: Slack's Home tab, the Teams welcome card, `/vp help`.

Both adapters render the same `HomeInfo`; the platform decides only how it looks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from bot.domain.content import SocialMapEntry, Text
from bot.domain.tenancy import CounsellorRole, Organisation


@dataclass(frozen=True, slots=True)
class CounsellorCard:
    name: str
    role: CounsellorRole
    intro: Text | None
    photo_url: str | None
    email: str | None


@dataclass(frozen=True, slots=True)
class UpcomingSession:
    id: UUID
    title: Text
    starts_at: datetime
    ends_at: datetime
    place: str | None
    online_url: str | None
    signups: int


@dataclass(frozen=True, slots=True)
class HomeInfo:
    organisation: Organisation
    counsellors: tuple[CounsellorCard, ...]
    social_map: tuple[SocialMapEntry, ...]
    sessions: tuple[UpcomingSession, ...]
    portal_url: str


class SessionCalendar(Protocol):
    """Port: the organisation's coming team sessions (implemented by the outreach feature)."""

    async def upcoming(self, organisation_id: UUID, now: datetime, limit: int) -> list[UpcomingSession]: ...


class HomeSource(Protocol):
    """Port: an organisation's front-door information (counsellors, sociale kaart, coming sessions)."""

    async def for_organisation(self, organisation: Organisation) -> HomeInfo: ...


class NoSessions:
    """A SessionCalendar for deployments (and tests) without team sessions."""

    async def upcoming(self, organisation_id: UUID, now: datetime, limit: int) -> list[UpcomingSession]:
        return []

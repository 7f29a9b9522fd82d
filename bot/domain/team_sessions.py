"""Team sessions: an information session, peer consultation or a visit to a team meeting, planned by a counsellor.

The bot announces a session with a "count me in" button, reminds the audience the day before and offers an .ics
file. Sign-ups are counted, never named: a sign-up is stored as a keyed hash of the person, per session, so the
counsellor (and the database) only ever see a number, while the person can see and withdraw their own sign-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import quote
from uuid import UUID

from icalendar import Calendar, Event

from bot.domain.content import Text
from bot.domain.delivery import Post
from bot.domain.outreach import Audience

ICS_PATH = "/outreach/sessions/{session_id}.ics"
SIGNUP_ACTION = "vip_session_signup"
WITHDRAW_ACTION = "vip_session_withdraw"
TITLE_MAX = 150
DESCRIPTION_MAX = 2000


class SessionError(ValueError):
    """A session that makes no sense (ends before it starts, no place and no link, ...)."""


@dataclass(frozen=True, slots=True)
class TeamSession:
    id: UUID
    organisation_id: UUID
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    place: str | None
    online_url: str | None
    audience: Audience
    locale: str | None
    cancelled: bool = False

    def check(self) -> None:
        if not self.title.strip():
            raise SessionError("a session needs a title")
        if len(self.title) > TITLE_MAX:
            raise SessionError(f"the title is longer than {TITLE_MAX} characters")
        if len(self.description) > DESCRIPTION_MAX:
            raise SessionError(f"the description is longer than {DESCRIPTION_MAX} characters")
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise SessionError("start and end need a time zone")
        if self.ends_at <= self.starts_at:
            raise SessionError("a session ends after it starts")
        if not self.place and not self.online_url:
            raise SessionError("give a place, an online link, or both")
        if self.online_url and not self.online_url.startswith(("https://", "http://")):
            raise SessionError("the online link must start with https://")

    @property
    def title_text(self) -> Text:
        """The title as typed by the counsellor, shown in both languages."""
        return Text(self.title, self.title)


@dataclass(frozen=True, slots=True)
class SignupState:
    """What one person sees: the count, and whether they signed up themselves."""

    count: int
    signed_up: bool


@dataclass(frozen=True, slots=True)
class SessionAnnouncementPost(Post):
    """ "There is a session ... [count me in]" — the count is shown, names never."""

    session: TeamSession
    signups: int
    ics_url: str
    timezone: str
    kind: str = "session_announcement"


@dataclass(frozen=True, slots=True)
class SessionReminderPost(Post):
    """ "Tomorrow: ..." — sent to the whole audience the day before."""

    session: TeamSession
    signups: int
    ics_url: str
    timezone: str
    kind: str = "session_reminder"


class TeamSessionStore(Protocol):
    """Port: team sessions and their anonymous sign-ups."""

    async def get(self, organisation_id: UUID, session_id: UUID) -> TeamSession | None: ...

    async def session_for_member(
        self, platform: str, workspace_id: str, session_id: UUID
    ) -> TeamSession | None: ...

    async def sign_up(self, organisation_id: UUID, session_id: UUID, person: str) -> SignupState: ...

    async def withdraw(self, organisation_id: UUID, session_id: UUID, person: str) -> SignupState: ...

    async def state(self, organisation_id: UUID, session_id: UUID, person: str | None) -> SignupState: ...


def reminder_moment(session: TeamSession, zone: str, hour: int = 10) -> datetime:
    """When the day-before reminder goes out: 10:00 local time the day before (UTC)."""
    from zoneinfo import ZoneInfo

    local_start = session.starts_at.astimezone(ZoneInfo(zone))
    day_before = (local_start - timedelta(days=1)).date()
    return datetime(
        day_before.year, day_before.month, day_before.day, hour, 0, tzinfo=ZoneInfo(zone)
    ).astimezone(UTC)


def session_ics(session: TeamSession, *, host: str, stamp: datetime) -> bytes:
    """An iCalendar file for the session (RFC 5545), written by the icalendar library."""
    calendar = Calendar()
    calendar.add("prodid", "-//vipbot//team sessions//NL")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{session.id}@{host}")
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", session.starts_at.astimezone(UTC))
    event.add("dtend", session.ends_at.astimezone(UTC))
    event.add("summary", session.title)
    description = session.description
    if session.online_url:
        description = f"{description}\n\n{session.online_url}".strip()
        event.add("url", session.online_url)
    if description:
        event.add("description", description)
    if session.place:
        event.add("location", session.place)
    event.add("status", "CANCELLED" if session.cancelled else "CONFIRMED")
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def person_of(platform: str, workspace_id: str, user_id: str) -> str:
    """The string a sign-up is keyed on (hashed before it is stored)."""
    return f"{platform}:{workspace_id}:{user_id}"


def count_text(t: Callable[..., str], locale: str, count: int) -> str:
    """ "No sign-ups yet" / "1 person signed up" / "n people signed up": one plural text in the locale files."""
    return t(locale, "sessions.count", count=count)


def ics_link(public_base_url: str, session_id: UUID) -> str:
    """The public address of a session's calendar file (served by the outreach feature at ICS_PATH)."""
    return public_base_url.rstrip("/") + ICS_PATH.format(session_id=quote(str(session_id)))

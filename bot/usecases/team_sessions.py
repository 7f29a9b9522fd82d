"""Planning and cancelling team sessions: the same steps and checks for `vipbot session …` and the console.

A refusal is a `SessionRefusedError` with a `SessionProblem` code: the CLI prints its one-line message, the console
maps the code to a locale key (`console.sessions.problem.<code>`). Planning stores the session, announces it now
and queues the reminder for 10:00 the day before — moved out of quiet hours, and left out when that moment has
passed or falls after the start.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain.clock import Clock
from bot.domain.outreach import Audience, AudienceError, What
from bot.domain.team_sessions import SessionError, TeamSession, reminder_moment
from bot.domain.tenancy import Organisation
from bot.errors import NotFoundError, RefusedError
from scheduler.service import Outreach


class SessionProblem(StrEnum):
    IN_PAST = "in_past"  # it starts now or earlier
    INVALID = "invalid"  # it ends before it starts, has neither place nor link, ...
    NO_AUDIENCE = "no_audience"  # the audience names nothing, or no channel or person of it can be reached
    NOT_FOUND = "not_found"  # no such session in this organisation


class SessionRefusedError(RefusedError[SessionProblem]):
    """A session that cannot be planned (or cancelled) as asked."""


@dataclass(frozen=True, slots=True)
class SessionDraft:
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    place: str | None
    online_url: str | None
    audience: Audience
    locale: str | None = None  # None: the organisation's language


@dataclass(frozen=True, slots=True)
class PlannedSession:
    session: TeamSession
    announced: int  # deliveries queued for the announcement
    reminder_at: datetime | None  # when the reminder goes out (None: no reminder)
    reminded: int  # deliveries queued for the reminder


class TeamSessions:
    """The team-session use cases over the outreach pipeline (its session store, materialiser and outbox)."""

    def __init__(self, outreach: Outreach, clock: Clock) -> None:
        self._outreach = outreach
        self._clock = clock

    async def plan(
        self, organisation: Organisation, draft: SessionDraft, *, remind: bool = True
    ) -> PlannedSession:
        now = self._clock.now()
        if draft.starts_at <= now:
            raise SessionRefusedError(SessionProblem.IN_PAST, "the session must start in the future")
        session = TeamSession(
            id=uuid.uuid4(),
            organisation_id=organisation.id,
            title=draft.title,
            description=draft.description,
            starts_at=draft.starts_at,
            ends_at=draft.ends_at,
            place=draft.place,
            online_url=draft.online_url,
            audience=draft.audience,
            locale=draft.locale,
        )
        try:
            session.check()
        except SessionError as exc:
            raise SessionRefusedError(SessionProblem.INVALID, str(exc)) from None
        materialiser = self._outreach.materialiser
        try:
            targets = await materialiser.addressees(organisation, draft.audience)
        except AudienceError as exc:
            raise SessionRefusedError(SessionProblem.NO_AUDIENCE, str(exc)) from None
        if not targets:
            raise SessionRefusedError(
                SessionProblem.NO_AUDIENCE,
                f"the session's audience ({draft.audience.describe()}) has no channel or member",
            )
        await self._outreach.team_sessions.add(session)
        announced = await materialiser.publish_now(
            organisation, What.SESSION, str(session.id), draft.audience, draft.locale
        )
        reminder_at = await self._reminder_moment(organisation, session, now) if remind else None
        reminded = 0
        if reminder_at is not None:
            done = await materialiser.publish_now(
                organisation,
                What.SESSION_REMINDER,
                str(session.id),
                draft.audience,
                draft.locale,
                send_at=reminder_at,
            )
            reminded = done.deliveries
        return PlannedSession(session, announced.deliveries, reminder_at, reminded)

    async def _reminder_moment(
        self, organisation: Organisation, session: TeamSession, now: datetime
    ) -> datetime | None:
        calendar = await self._outreach.materialiser.schedules.calendar(organisation.id)
        moment = reminder_moment(session, organisation.timezone)
        allowed = calendar.next_allowed(moment.astimezone(ZoneInfo(organisation.timezone)))
        if allowed is None or not now < allowed.astimezone(UTC) < session.starts_at:
            return None
        return allowed.astimezone(UTC)

    async def cancel(self, organisation: Organisation, session_id: uuid.UUID) -> TeamSession:
        """Cancel: posts about it still in the outbox build nothing and are not sent."""
        try:
            return await self._outreach.team_sessions.cancel(organisation.id, session_id)
        except NotFoundError:
            raise SessionRefusedError(
                SessionProblem.NOT_FOUND, f"there is no session {session_id} in {organisation.slug}"
            ) from None

    async def listing(self, organisation: Organisation, *, past_too: bool) -> list[tuple[TeamSession, int]]:
        """Sessions with their sign-up counts: the coming ones, or all of them."""
        after = None if past_too else self._clock.now()
        return await self._outreach.team_sessions.list_sessions(organisation.id, after=after)

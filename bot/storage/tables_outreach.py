"""Tables of scheduled outreach: calendars, schedules, occurrences, the delivery outbox, members and sessions.

The outbox key is UNIQUE(occurrence, target) and an occurrence is UNIQUE(schedule, occurrence time): a second
materialisation of the same occurrence (by another replica, or after a restart) inserts nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.storage.tables import utcnow


class OutreachCalendarRow(SQLModel, table=True):
    """When an organisation may be written to: quiet hours, weekends, holidays (local time of the organisation)."""

    __tablename__ = "outreach_calendar"

    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", primary_key=True, ondelete="CASCADE")
    quiet_start: str = Field(default="20:00", max_length=5)
    quiet_end: str = Field(default="07:00", max_length=5)
    skip_weekends: bool = Field(default=True)
    holidays: str = Field(default="[]", sa_type=Text)  # JSON list of ISO dates


class OutreachScheduleRow(SQLModel, table=True):
    __tablename__ = "outreach_schedule"
    __table_args__ = (UniqueConstraint("organisation_id", "name", name="uq_outreach_schedule_name"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    what: str = Field(max_length=32)
    item_id: str | None = Field(default=None, max_length=120)
    audience: str = Field(sa_type=Text)  # JSON, see bot.domain.outreach.Audience
    recurrence: str = Field(max_length=200)
    anchor: str = Field(max_length=10)  # ISO date that "every other week" counts from
    timezone: str | None = Field(default=None, max_length=64)
    locale: str | None = Field(default=None, max_length=8)
    when_blocked: str = Field(default="skip", max_length=8)
    grace_minutes: int = Field(default=120)
    enabled: bool = Field(default=True)
    cursor_at: datetime | None = Field(default=None)  # occurrences up to here have been considered
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class OutreachOccurrenceRow(SQLModel, table=True):
    """One firing of a schedule (or one "publish now"): what is posted, chosen once for every replica."""

    __tablename__ = "outreach_occurrence"
    __table_args__ = (UniqueConstraint("schedule_id", "occurs_at", name="uq_outreach_occurrence_slot"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    schedule_id: uuid.UUID | None = Field(
        default=None, foreign_key="outreach_schedule.id", index=True, ondelete="SET NULL"
    )
    occurs_at: datetime
    send_at: datetime
    kind: str = Field(max_length=32)
    item_id: str | None = Field(default=None, max_length=120)
    locale: str = Field(max_length=8)
    created_at: datetime = Field(default_factory=utcnow)


class OutreachDeliveryRow(SQLModel, table=True):
    """The outbox: one row per (occurrence, target); claimed by a worker under a lease."""

    __tablename__ = "outreach_delivery"
    __table_args__ = (
        UniqueConstraint(
            "occurrence_id", "platform", "workspace_id", "address", name="uq_outreach_delivery_target"
        ),
        Index("ix_outreach_delivery_due", "status", "not_before"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    occurrence_id: uuid.UUID = Field(foreign_key="outreach_occurrence.id", index=True, ondelete="CASCADE")
    platform: str = Field(max_length=16)
    workspace_id: str = Field(max_length=64)
    target_kind: str = Field(max_length=16)
    address: str = Field(max_length=200)
    locale: str | None = Field(default=None, max_length=8)
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    not_before: datetime
    claimed_until: datetime | None = Field(default=None)
    claimed_by: str | None = Field(default=None, max_length=64)
    message_id: str | None = Field(default=None, max_length=200)
    error: str | None = Field(default=None, max_length=300)
    # What went wrong as a code (bot.domain.failures.FailureCode) and its short detail: what the console shows.
    failure_code: str | None = Field(default=None, max_length=32)
    failure_detail: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = Field(default=None)


class OutreachMemberRow(SQLModel, table=True):
    """Someone the bot may write to directly: a Slack user id or a Teams personal conversation key."""

    __tablename__ = "outreach_member"
    __table_args__ = (
        UniqueConstraint("platform", "workspace_id", "address", name="uq_outreach_member_address"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    platform: str = Field(max_length=16)
    workspace_id: str = Field(max_length=64)
    address: str = Field(max_length=200)
    locale: str | None = Field(default=None, max_length=8)
    active: bool = Field(default=True)


class TeamSessionRow(SQLModel, table=True):
    __tablename__ = "team_session"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text)
    starts_at: datetime
    ends_at: datetime
    place: str | None = Field(default=None, max_length=300)
    online_url: str | None = Field(default=None, max_length=500)
    audience: str = Field(sa_type=Text)  # JSON, see bot.domain.outreach.Audience
    locale: str | None = Field(default=None, max_length=8)
    cancelled: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)


class TeamSessionSignupRow(SQLModel, table=True):
    """A sign-up, keyed by a per-session keyed hash of the person: no platform user id, no timestamp."""

    __tablename__ = "team_session_signup"

    session_id: uuid.UUID = Field(foreign_key="team_session.id", primary_key=True, ondelete="CASCADE")
    person: str = Field(primary_key=True, max_length=64)

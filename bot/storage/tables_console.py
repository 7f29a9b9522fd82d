"""Tables of the console: accounts, sign-in sessions, invitations, console-written content, report notes.

Datetimes are stored as UTC; SQLite hands them back naive, so repositories read them through `aware()`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import Column, DateTime, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.storage.tables import utcnow


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class ConsoleAccountRow(SQLModel, table=True):
    __tablename__ = "console_account"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    display_name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    # A management viewer's one organisation; counsellors reach theirs through organisation_counsellor.
    organisation_id: uuid.UUID | None = Field(
        default=None, foreign_key="organisation.id", index=True, ondelete="CASCADE"
    )
    counsellor_id: uuid.UUID | None = Field(default=None, foreign_key="counsellor.id", ondelete="SET NULL")
    password_hash: str = Field(max_length=400)
    totp_secret: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    totp_last_step: int | None = Field(default=None)
    failed_attempts: int = Field(default=0)
    locked_until: datetime | None = Field(default=None)
    locale: str = Field(max_length=8, default="nl")
    disabled: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)


class ConsoleSessionRow(SQLModel, table=True):
    """A signed-in browser. `id` is SHA-256 of the cookie's token: a database leak gives no usable cookie."""

    __tablename__ = "console_session"

    id: str = Field(primary_key=True, max_length=64)
    account_id: uuid.UUID = Field(foreign_key="console_account.id", index=True, ondelete="CASCADE")
    stage: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)


class ConsoleInvitationRow(SQLModel, table=True):
    """A single-use, expiring invitation; only SHA-256 of the link's token is stored."""

    __tablename__ = "console_invitation"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    email: str = Field(max_length=320)
    role: str = Field(max_length=16)
    organisation_id: uuid.UUID | None = Field(
        default=None, foreign_key="organisation.id", index=True, ondelete="CASCADE"
    )
    created_by: uuid.UUID | None = Field(default=None, foreign_key="console_account.id", ondelete="SET NULL")
    expires_at: datetime
    used_at: datetime | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow)


class ConsoleItemRow(SQLModel, table=True):
    """A column or reminder written in the console for one organisation, in Dutch and English."""

    __tablename__ = "console_item"
    __table_args__ = (UniqueConstraint("organisation_id", "kind", "slug", name="uq_console_item_slug"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16)  # column | reminder
    slug: str = Field(max_length=60)
    theme: str = Field(max_length=60, default="")
    reading_minutes: int = Field(default=2)
    title_nl: str = Field(max_length=200)
    title_en: str = Field(max_length=200)
    summary_nl: str = Field(default="", sa_column=Column(Text, nullable=False))
    summary_en: str = Field(default="", sa_column=Column(Text, nullable=False))
    body_nl: str = Field(sa_column=Column(Text, nullable=False))
    body_en: str = Field(sa_column=Column(Text, nullable=False))
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="console_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, sa_column_kwargs={"nullable": False})


class ConsoleReportNoteRow(SQLModel, table=True):
    """The counsellor's own signals and advice for one organisation's periodic report."""

    __tablename__ = "console_report_note"
    __table_args__ = (
        UniqueConstraint(
            "organisation_id", "period_start", "period_end", name="uq_console_report_note_period"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    period_start: date
    period_end: date
    signals: str = Field(default="", sa_column=Column(Text, nullable=False))
    advice: str = Field(default="", sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))


class ConsoleLoginThrottleRow(SQLModel, table=True):
    """Wrong passwords in a row, per (address typed, client): growing delays, never a lock of the account itself.

    `key` is an HMAC under the service's secret of the address and the client (a device cookie this browser got
    at an earlier sign-in, else its network address), so the table holds neither. An attempt is counted with one
    UPDATE before the password is checked; rows are deleted at a successful sign-in and a day after their last
    refusal.
    """

    __tablename__ = "console_login_throttle"

    key: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    failures: int = Field(default=0)
    blocked_until: datetime | None = Field(default=None)
    last_failure: datetime = Field(default_factory=utcnow)


class ConsoleOrganisationPolicyRow(SQLModel, table=True):
    """What an organisation asks of its management viewers' sign-in: here, whether a second factor is required."""

    __tablename__ = "console_organisation_policy"

    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", primary_key=True, ondelete="CASCADE")
    require_totp: bool = Field(default=False)


class ConsoleAuditRow(SQLModel, table=True):
    """One console action: who, what, in which organisation, on which kind of thing — never content.

    Times are kept to the minute; actions on conversations to the day, once a day (see `bot.usecases.audit`).
    Removing an account or erasing an organisation keeps the row (who did what
    stays accountable) but forgets the link to them.
    """

    __tablename__ = "console_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor_account_id: uuid.UUID | None = Field(
        default=None, foreign_key="console_account.id", ondelete="SET NULL"
    )
    action: str = Field(max_length=32, index=True)
    organisation_id: uuid.UUID | None = Field(
        default=None, foreign_key="organisation.id", index=True, ondelete="SET NULL"
    )
    subject: str | None = Field(default=None, max_length=64)

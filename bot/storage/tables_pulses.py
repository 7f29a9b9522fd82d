"""Tables of pulses and anonymous insights (DESIGN §5).

- `pulse_counter` holds, while a round is open, answers per group, question and value as counters created at open
  and only added to: no answer row, no order, nothing next to a person.
- `pulse_key` holds the per-pulse HMAC key, encrypted, only while the pulse is open.
- `pulse_participation` holds HMAC(pulse key, question, platform user) while the pulse is open. Its foreign key to
  `pulse_key` cascades: deleting the key at close deletes every participation row, and an answer arriving after
  close fails inside its own transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlmodel import Field, SQLModel


class PulseRow(SQLModel, table=True):
    """One round of a pulse set in an organisation: its window and the group tree it was sent to."""

    __tablename__ = "pulse"
    __table_args__ = (Index("ix_pulse_series", "organisation_id", "pulse_set_id", "opened_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    pulse_set_id: str = Field(max_length=80)
    audience_group_id: uuid.UUID = Field()
    status: str = Field(max_length=16, default="open")
    opened_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    closes_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    summary_sent_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # The organisation's group tree when the round opened (JSON), so later changes never rewrite history.
    tree: str = Field(sa_column=Column(Text, nullable=False))
    # The outreach occurrence that opened it: every replica building the same occurrence gets the same round.
    occurrence_id: uuid.UUID | None = Field(default=None, unique=True)


class PulseKeyRow(SQLModel, table=True):
    """The pulse's HMAC key, sealed under the service key; exists only while the pulse is open."""

    __tablename__ = "pulse_key"

    pulse_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("pulse.id", ondelete="CASCADE"), primary_key=True)
    )
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", ondelete="CASCADE")
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class PulseParticipationRow(SQLModel, table=True):
    """One answer given: HMAC(pulse key, question, person). No time, no group, no link to the answer."""

    __tablename__ = "pulse_participation"
    __table_args__ = {"sqlite_with_rowid": False}

    pulse_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("pulse_key.pulse_id", ondelete="CASCADE"), primary_key=True)
    )
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", ondelete="CASCADE")
    participant: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))


# Counters are stored as COUNTER_BIAS + n: every value then takes the same number of bytes in a SQLite record (a
# six-byte integer), so adding one rewrites the row in place instead of moving it within its page.
COUNTER_BIAS = 1 << 40


class PulseCounterRow(SQLModel, table=True):
    """While a round is open: how many answers of one value one question got under one group — a counter that is
    only ever added to. Rows are created when the round opens (every group, question and value), so neither the
    rows nor their order say anything about who clicked what, or when. Turned into the tally and deleted at close.
    """

    __tablename__ = "pulse_counter"

    pulse_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("pulse.id", ondelete="CASCADE"), primary_key=True)
    )
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", ondelete="CASCADE")
    group_id: uuid.UUID = Field(primary_key=True)
    question_id: str = Field(sa_column=Column(String(80), primary_key=True))
    value: str = Field(sa_column=Column(String(40), primary_key=True))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))


class ManagementChannelRow(SQLModel, table=True):
    """Where an organisation's management summaries go when not (only) to the viewers' DMs."""

    __tablename__ = "management_channel"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    platform: str = Field(max_length=16)
    workspace_id: str = Field(max_length=64)
    channel_id: str = Field(max_length=200)


class PulseTallyRow(SQLModel, table=True):
    """A closed round's answers under one group, counted per question and value — what insights read.

    `counts` is JSON, {"question id": {"value": answers}}. Written in the transaction that closes the round; the
    same information as the answer rows (which hold nothing else), counted once instead of on every read.
    """

    __tablename__ = "pulse_round_tally"

    pulse_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("pulse.id", ondelete="CASCADE"), primary_key=True)
    )
    organisation_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True)
    )
    group_id: uuid.UUID = Field(primary_key=True)
    counts: str = Field(sa_column=Column(Text, nullable=False))


class PulseMonthlyRow(SQLModel, table=True):
    """The monthly overview of a pulse set sent for an organisation in a month: claimed once across replicas."""

    __tablename__ = "pulse_monthly"

    organisation_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True)
    )
    pulse_set_id: str = Field(sa_column=Column(String(80), primary_key=True))
    month: str = Field(sa_column=Column(String(7), primary_key=True))  # "2026-04"


class PulseReleaseRow(SQLModel, table=True):
    """A pulse set's published figures for one organisation and period: noisy counts drawn once (JSON `cells`),
    the tree they refer to, and the ε the release cost everybody (the privacy accountant's ledger)."""

    __tablename__ = "pulse_release"

    organisation_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True)
    )
    pulse_set_id: str = Field(sa_column=Column(String(80), primary_key=True))
    period: str = Field(sa_column=Column(String(7), primary_key=True))  # "2026-04"
    released_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    epsilon: float = Field(sa_column=Column(Float, nullable=False))
    rounds: int = Field(sa_column=Column(Integer, nullable=False))
    tree: str = Field(sa_column=Column(Text, nullable=False))
    cells: str = Field(sa_column=Column(Text, nullable=False))
    summary_sent_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class GroupLineageRow(SQLModel, table=True):
    """A group that was merged into another (or split off from one): the lineage that keeps pooled answers and
    published history with the people, whatever the tree's shape becomes. Rename and move keep a group's id."""

    __tablename__ = "group_lineage"

    organisation_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True)
    )
    group_id: uuid.UUID = Field(primary_key=True)
    related_id: uuid.UUID = Field()  # merged: the group it went into; split: the group it came from
    operation: str = Field(max_length=16, primary_key=True)  # "merged" | "split"
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))

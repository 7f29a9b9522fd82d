"""Tables of the practice-wide library and of each organisation's own code of conduct.

A practice item is written once (Dutch and English, English optional) and added to several organisations: each
gets its own `console_item` row, linked here and rewritten whenever the practice item is saved, so an
organisation's schedules, previews and outbox treat it like its own item while its words stay the practice's.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.storage.tables import utcnow


class PracticeItemRow(SQLModel, table=True):
    """A column or reminder of the practice-wide library (the deployment belongs to one practice)."""

    __tablename__ = "practice_item"
    __table_args__ = (UniqueConstraint("kind", "slug", name="uq_practice_item_slug"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=16)  # column | reminder
    slug: str = Field(max_length=60)
    theme: str = Field(max_length=60, default="")
    reading_minutes: int = Field(default=2)
    title_nl: str = Field(max_length=200)
    title_en: str = Field(max_length=200, default="")
    summary_nl: str = Field(default="", sa_column=Column(Text, nullable=False))
    summary_en: str = Field(default="", sa_column=Column(Text, nullable=False))
    body_nl: str = Field(sa_column=Column(Text, nullable=False))
    body_en: str = Field(default="", sa_column=Column(Text, nullable=False))
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="console_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PracticeCopyRow(SQLModel, table=True):
    """Which organisation carries which practice item, as which of its own items."""

    __tablename__ = "practice_copy"

    practice_item_id: uuid.UUID = Field(foreign_key="practice_item.id", primary_key=True, ondelete="CASCADE")
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", primary_key=True, ondelete="CASCADE")
    console_item_id: uuid.UUID = Field(
        foreign_key="console_item.id", unique=True, index=True, ondelete="CASCADE"
    )


class OrganisationConductRow(SQLModel, table=True):
    """An organisation's own code of conduct: a link, or a PDF served by vipbot at /conduct/<token>.pdf.

    The token is random and stays the same when the document is replaced, so links already sent keep working
    and open the newest version. A code of conduct is not confidential, but the token keeps it from being
    found by guessing organisation names.
    """

    __tablename__ = "organisation_conduct"

    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", primary_key=True, ondelete="CASCADE")
    url: str = Field(default="", max_length=500)
    document: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    document_name: str = Field(default="", max_length=200)
    token: str = Field(max_length=64, unique=True)
    updated_at: datetime = Field(default_factory=utcnow)

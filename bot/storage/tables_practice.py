"""Tables of the practice's own settings: the counsellor's photo and each organisation's own sociale kaart.

The photo is kept here (not on disk) so that every replica serves it; only the resized, metadata-free JPEG is
stored, under a random token that is also its public address (a new upload gets a new token, so caches and
Slack's image proxy never show an old photo).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.storage.tables import utcnow


class CounsellorPhotoRow(SQLModel, table=True):
    __tablename__ = "counsellor_photo"

    counsellor_id: uuid.UUID = Field(foreign_key="counsellor.id", primary_key=True, ondelete="CASCADE")
    token: str = Field(max_length=64, unique=True)
    content_type: str = Field(max_length=32)
    image: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class OrganisationSocialEntryRow(SQLModel, table=True):
    """One entry of an organisation's own sociale kaart: it replaces the template's entry with the same
    `entry_id` (e.g. `hr` with the real phone number) or adds one of its own."""

    __tablename__ = "organisation_social_entry"
    __table_args__ = (
        UniqueConstraint("organisation_id", "entry_id", name="uq_organisation_social_entry_entry"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    entry_id: str = Field(max_length=60)
    kind: str = Field(max_length=16, default="internal")
    name_nl: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    description_nl: str = Field(default="", sa_column=Column(Text, nullable=False))
    description_en: str = Field(default="", sa_column=Column(Text, nullable=False))
    phone: str | None = Field(default=None, max_length=60)
    url: str | None = Field(default=None, max_length=500)
    hours_nl: str | None = Field(default=None, max_length=200)
    hours_en: str | None = Field(default=None, max_length=200)

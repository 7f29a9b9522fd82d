"""Tables of the tenancy model.

Feature packages add their own table modules next to this one (`tables_<feature>.py`); `bot.storage.metadata`
imports them all so migrations and the drift check see every table.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

# Named constraints keep migrations identical on SQLite and PostgreSQL (batch mode on SQLite needs names).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class PracticeRow(SQLModel, table=True):
    __tablename__ = "practice"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)


class OrganisationRow(SQLModel, table=True):
    __tablename__ = "organisation"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    practice_id: uuid.UUID = Field(foreign_key="practice.id", index=True)
    slug: str = Field(max_length=60, unique=True)
    name: str = Field(max_length=200)
    timezone: str = Field(max_length=64, default="Europe/Amsterdam")
    locale: str = Field(max_length=8, default="nl")
    retention_days: int = Field(default=90)
    created_at: datetime = Field(default_factory=utcnow)


class GroupRow(SQLModel, table=True):
    __tablename__ = "org_group"
    __table_args__ = (UniqueConstraint("organisation_id", "slug", name="uq_org_group_slug"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    parent_id: uuid.UUID | None = Field(default=None, foreign_key="org_group.id", index=True)
    kind: str = Field(max_length=16)
    slug: str = Field(max_length=60)
    name: str = Field(max_length=200)


class ChannelBindingRow(SQLModel, table=True):
    __tablename__ = "channel_binding"
    __table_args__ = (
        UniqueConstraint("platform", "workspace_id", "channel_id", name="uq_channel_binding_channel"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    group_id: uuid.UUID = Field(foreign_key="org_group.id", index=True, ondelete="CASCADE")
    platform: str = Field(max_length=16)
    workspace_id: str = Field(max_length=64)
    channel_id: str = Field(max_length=200)
    channel_name: str | None = Field(default=None, max_length=200)
    archived: bool = Field(default=False)


class PlatformConnectionRow(SQLModel, table=True):
    """Links a Slack workspace (team id) or a Teams tenant (tenant id) to the organisation it belongs to."""

    __tablename__ = "platform_connection"
    __table_args__ = (UniqueConstraint("platform", "workspace_id", name="uq_platform_connection"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    platform: str = Field(max_length=16)
    workspace_id: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class CounsellorRow(SQLModel, table=True):
    __tablename__ = "counsellor"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    practice_id: uuid.UUID = Field(foreign_key="practice.id", index=True)
    display_name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    photo_url: str | None = Field(default=None, max_length=500)
    intro_nl: str | None = Field(default=None, max_length=1000)
    intro_en: str | None = Field(default=None, max_length=1000)


class OrganisationCounsellorRow(SQLModel, table=True):
    __tablename__ = "organisation_counsellor"

    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", primary_key=True, ondelete="CASCADE")
    counsellor_id: uuid.UUID = Field(foreign_key="counsellor.id", primary_key=True, ondelete="CASCADE")
    role: str = Field(max_length=16, default="primary")


class ManagementViewerRow(SQLModel, table=True):
    __tablename__ = "management_viewer"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    display_name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    platform: str | None = Field(default=None, max_length=16)
    platform_user_id: str | None = Field(default=None, max_length=200)

"""Tables of the member directory's sync and of the send budget shared by every replica.

The directory itself is `outreach_member` (one row per person the bot may DM); `member_sync` records, per
workspace, when its members were last read from the platform, so one replica (not all) does the next sync.
`rate_budget` holds, per (platform, workspace, method), the next free send slot and any Retry-After pause, as
seconds since the epoch: every replica reserves its sends there, so together they stay within the limit.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel


class MemberSyncRow(SQLModel, table=True):
    __tablename__ = "member_sync"

    platform: str = Field(max_length=16, primary_key=True)
    workspace_id: str = Field(max_length=64, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    started_at: datetime | None = Field(default=None)  # a replica took the sync at this moment
    synced_at: datetime | None = Field(default=None)  # the last sync that read every page
    members: int = Field(default=0)


class RateBudgetRow(SQLModel, table=True):
    __tablename__ = "rate_budget"

    platform: str = Field(max_length=16, primary_key=True)
    workspace_id: str = Field(max_length=64, primary_key=True)
    method: str = Field(max_length=64, primary_key=True)
    next_at: float = Field(default=0.0)  # epoch seconds: the first slot nobody has reserved yet
    paused_until: float = Field(default=0.0)  # epoch seconds: a Retry-After seen by any replica


class SlackGridWorkspaceRow(SQLModel, table=True):
    """A workspace of an Enterprise Grid organisation served by an org-wide install (keyed by the enterprise):
    its events, member sync and sends use the enterprise's token and belong to the same organisation."""

    __tablename__ = "slack_grid_workspace"

    team_id: str = Field(max_length=64, primary_key=True)
    enterprise_id: str = Field(max_length=64, index=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")

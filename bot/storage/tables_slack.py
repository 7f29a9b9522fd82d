"""Tables of the Slack adapter: OAuth installations (tokens sealed at rest) and short-lived OAuth states.

Tokens are sealed with SecretBox (purpose "slack-bot-token"), bound to the installation's workspace key, so a
copied database holds no usable token and a sealed token cannot be moved to another row. The OAuth state is
kept as a SHA-256 digest only: the value itself lives in the installer's browser for ten minutes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from bot.storage.tables import utcnow


class SlackInstallationRow(SQLModel, table=True):
    __tablename__ = "slack_installation"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    # The team id, or the enterprise id for an org-wide (Enterprise Grid) install.
    workspace_key: str = Field(max_length=64, unique=True)
    team_id: str | None = Field(default=None, max_length=64)
    enterprise_id: str | None = Field(default=None, max_length=64)
    is_enterprise_install: bool = Field(default=False)
    app_id: str | None = Field(default=None, max_length=64)
    bot_id: str = Field(max_length=64)
    bot_user_id: str = Field(max_length=64)
    bot_scopes: str = Field(default="", max_length=2000)
    bot_token: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    bot_refresh_token: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    bot_token_expires_at: datetime | None = Field(default=None)
    installed_at: datetime = Field(default_factory=utcnow)


class SlackOAuthStateRow(SQLModel, table=True):
    __tablename__ = "slack_oauth_state"

    digest: str = Field(max_length=64, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    expires_at: datetime = Field(index=True)

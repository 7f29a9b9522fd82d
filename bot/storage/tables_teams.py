"""Tables of the Teams adapter: the conversation references needed for proactive messages.

A reference holds Teams user, conversation and team ids, so it is stored sealed (SecretBox, purpose
"teams-conversation-reference"); only an opaque keyed hash of the conversation (the delivery address) and of the
team sit in the clear. Nothing in these rows is linked to anything confidential.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from bot.storage.tables import utcnow


class TeamsConversationRow(SQLModel, table=True):
    __tablename__ = "teams_conversation"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    tenant_id: str = Field(max_length=64)
    # Keyed hash of the conversation id (or of the user id for a person without a chat yet): the Target address.
    address: str = Field(max_length=64, unique=True)
    # personal | channel | group_chat | member
    scope: str = Field(max_length=16)
    # Keyed hash of the team id for channels of a team, so uninstalling from a team removes all of them.
    team_key: str | None = Field(default=None, max_length=64, index=True)
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)

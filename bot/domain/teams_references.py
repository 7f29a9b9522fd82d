"""Teams conversation references as the Teams adapter sees them: value types and the port that keeps them.

`bot/storage/teams_references.py` implements `TeamsReferences` (sealed rows addressed by an opaque keyed hash);
the composition root hands the store to the adapter, which never builds storage objects itself.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Protocol

from bot.domain.delivery import Target, TargetKind
from bot.domain.tenancy import Organisation
from bot.errors import VipbotError


class TeamsScope(StrEnum):
    PERSONAL = "personal"  # the bot's 1:1 chat with a person
    CHANNEL = "channel"  # a channel of a team
    GROUP_CHAT = "group_chat"
    MEMBER = "member"  # a person in a team the bot is in, without a 1:1 chat yet (created on first send)


@dataclass(frozen=True, slots=True)
class TeamsReference:
    """Everything needed to post into a Teams conversation later. Holds ids: never log it."""

    scope: TeamsScope
    tenant_id: str
    service_url: str
    bot_id: str
    conversation_id: str | None
    user_id: str | None = None
    team_id: str | None = None
    team_name: str | None = None
    channel_name: str | None = None
    locale: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> TeamsReference:
        values = json.loads(data)
        values["scope"] = TeamsScope(values["scope"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class StoredReference:
    organisation_id: uuid.UUID
    address: str
    reference: TeamsReference


class UnknownTenantError(VipbotError):
    """No organisation is connected to this Teams tenant."""


class TeamsReferences(Protocol):
    """Port: the conversation references of every organisation; every query filters on organisation or address."""

    def address_of(self, reference: TeamsReference) -> str: ...
    def address_of_person(self, tenant_id: str, user_id: str) -> str: ...
    def address_of_conversation(self, conversation_id: str) -> str: ...
    def team_key(self, team_id: str) -> str: ...
    async def organisation_for_tenant(self, tenant_id: str) -> Organisation | None: ...
    async def connect_tenant(self, organisation_id: uuid.UUID, tenant_id: str) -> None: ...
    async def disconnect_tenant(self, organisation_id: uuid.UUID, tenant_id: str) -> int: ...
    async def save(self, organisation_id: uuid.UUID, reference: TeamsReference) -> str: ...
    async def save_people(self, organisation_id: uuid.UUID, references: list[TeamsReference]) -> int: ...
    async def exists(self, address: str) -> bool: ...
    async def get(self, address: str) -> StoredReference | None: ...
    async def list_references(
        self, organisation_id: uuid.UUID, scope: TeamsScope | None = None
    ) -> list[StoredReference]: ...
    async def targets(self, organisation_id: uuid.UUID, kind: TargetKind) -> list[Target]: ...
    async def remove(self, address: str) -> int: ...
    async def remove_member(self, tenant_id: str, user_id: str) -> int: ...
    async def remove_team(self, team_id: str) -> int: ...

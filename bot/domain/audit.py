"""What the audit log of console actions holds: an action, who, on which organisation, and a subject that is an
id or a kind (never content). The use case is `bot.usecases.audit.AuditLog`."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

#: What a subject may look like: an id (a UUID, a slug) or a kind, never free text.
SUBJECT = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")
CONVERSATION = "conversation"
PAGE_SIZE = 50


class AuditAction(StrEnum):
    SIGNED_IN = "signed_in"
    SIGNED_OUT = "signed_out"
    UNLOCKED = "unlocked"
    REPLIED = "replied"
    CLASSIFIED = "classified"
    CONVERSATION_LABELLED = "conversation_labelled"
    CONVERSATION_STATUS = "conversation_status"
    WHISTLEBLOWING_DUTY = "whistleblowing_duty"
    INVITED = "invited"
    EXPORTED = "exported"
    SETTINGS_CHANGED = "settings_changed"
    KEY_CREATED = "key_created"
    KEY_ROTATED = "key_rotated"
    PROFILE_CHANGED = "profile_changed"
    ACCOUNT_CHANGED = "account_changed"
    ORGANISATION_CREATED = "organisation_created"
    ORGANISATION_ERASED = "organisation_erased"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor_account_id: UUID | None
    action: AuditAction
    organisation_id: UUID | None
    subject: str | None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    action: AuditAction | None = None
    organisation_id: UUID | None = None
    page: int = 1
    page_size: int = PAGE_SIZE


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    page: int
    has_next: bool


class AuditStore(Protocol):
    async def add(self, entry: AuditEntry) -> None: ...

    async def list(self, query: AuditQuery) -> AuditPage: ...

    async def purge_before(self, moment: datetime) -> int: ...


class AuditTrail(Protocol):
    """The audit log as every console feature writes it (`bot.usecases.audit.AuditLog`)."""

    async def record(
        self,
        actor_account_id: UUID | None,
        action: AuditAction,
        organisation_id: UUID | None = None,
        subject: str | None = None,
    ) -> None: ...

    async def list(self, query: AuditQuery) -> AuditPage: ...

    async def purge(self) -> int: ...


class MemoryAuditStore:
    """The in-memory fake of `AuditStore`."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def add(self, entry: AuditEntry) -> None:
        self.entries.append(replace(entry, id=len(self.entries) + 1))

    async def list(self, query: AuditQuery) -> AuditPage:
        found = [
            e
            for e in reversed(self.entries)
            if (query.action is None or e.action is query.action)
            and (query.organisation_id is None or e.organisation_id == query.organisation_id)
        ]
        start = (query.page - 1) * query.page_size
        return AuditPage(
            found[start : start + query.page_size], query.page, len(found) > start + query.page_size
        )

    async def purge_before(self, moment: datetime) -> int:
        kept = [e for e in self.entries if e.at >= moment]
        gone = len(self.entries) - len(kept)
        self.entries = kept
        return gone


def check_subject(subject: str | None) -> str | None:
    if subject is None:
        return None
    if not SUBJECT.fullmatch(subject):
        raise ValueError("an audit subject is an id or a kind, never text")
    return subject

"""The audit log of console actions: who signed in, unlocked, replied, classified, invited, exported, changed what.

API note (for every console feature):
- `await services.audit.record(account.id, AuditAction.X, organisation_id=org.id, subject="…")` after the action
  succeeded. `actor_account_id` is the console account's id (None for the system, e.g. a CLI command);
  `subject` names *what* was acted on by id or kind ("conversation", a schedule's id, a setting's name), never
  content: anything that is not a short lowercase token is refused with `ValueError`.
- Actions on a conversation carry the subject kind "conversation" and no conversation id, and times are kept to
  the minute: the log must not become a trace of when a conversation was active that outlives the conversation's
  own erasure (DESIGN §4.4, §4.6).
- Rows are kept `VIPBOT_AUDIT_RETENTION_DAYS` (default 365) and purged by the confidential channel's
  housekeeping round (`AuditLog.purge`); administrators read them at `/console/audit`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from bot.domain.clock import Clock

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


class AuditLog:
    """Records console actions and keeps them for `retention_days`."""

    def __init__(self, store: AuditStore, clock: Clock, retention_days: int) -> None:
        self.store = store
        self.clock = clock
        self.retention = timedelta(days=retention_days)

    async def record(
        self,
        actor_account_id: UUID | None,
        action: AuditAction,
        organisation_id: UUID | None = None,
        subject: str | None = None,
    ) -> None:
        at = self.clock.now().replace(second=0, microsecond=0)
        await self.store.add(
            AuditEntry(at, actor_account_id, AuditAction(action), organisation_id, check_subject(subject))
        )

    async def list(self, query: AuditQuery) -> AuditPage:
        return await self.store.list(query)

    async def purge(self) -> int:
        """Delete what is older than the retention; safe to run on several replicas at once."""
        return await self.store.purge_before(self.clock.now() - self.retention)

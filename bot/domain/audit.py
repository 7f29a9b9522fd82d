"""What the audit log of console actions holds: an action, who, on which organisation, and a subject that is an
id or a kind (never content). The use case is `bot.usecases.audit.AuditLog`.

Actions on conversations (`CONVERSATION_ACTIONS`) are kept by day, once per counsellor, organisation and action,
and no longer than the organisation's conversation retention: the log must not say when a conversation was
active after the conversation itself is gone (DESIGN §4.4, §4.6; docs/console.md, threat model)."""

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


#: Actions that only happen because a conversation exists (unlocking the inbox, replying, classifying, labelling,
#: closing, a whistleblowing duty): recorded by day, at most once a day per counsellor, organisation and action,
#: and purged with the organisation's conversation retention. Everything else keeps the audit retention.
CONVERSATION_ACTIONS = frozenset(
    {
        AuditAction.UNLOCKED,
        AuditAction.REPLIED,
        AuditAction.CLASSIFIED,
        AuditAction.CONVERSATION_LABELLED,
        AuditAction.CONVERSATION_STATUS,
        AuditAction.WHISTLEBLOWING_DUTY,
    }
)
#: The only subjects a conversation action may carry: a kind, never anything that tells conversations apart.
CONVERSATION_SUBJECTS = frozenset({CONVERSATION, "inbox"})


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor_account_id: UUID | None
    action: AuditAction
    organisation_id: UUID | None
    subject: str | None
    id: int | None = None

    @property
    def daily(self) -> bool:
        """Kept by day only (an action on a conversation): `at` is the start of that day, in UTC."""
        return self.action in CONVERSATION_ACTIONS


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

    async def add_once(self, entry: AuditEntry) -> None:
        """Add `entry` unless one with the same moment, actor, action and organisation is there already."""
        ...

    async def list(self, query: AuditQuery) -> AuditPage: ...

    async def purge_before(
        self,
        moment: datetime,
        actions: frozenset[AuditAction] | None = None,
        organisation_id: UUID | None = None,
    ) -> int:
        """Delete entries older than `moment`: all, or only of `actions` (and of one organisation)."""
        ...

    async def purge_unlisted(self, actions: frozenset[AuditAction], organisation_ids: set[UUID]) -> int:
        """Delete every entry of `actions` whose organisation is not one of `organisation_ids` (or has none)."""
        ...


class MemoryAuditStore:
    """The in-memory fake of `AuditStore`."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def add(self, entry: AuditEntry) -> None:
        self.entries.append(replace(entry, id=len(self.entries) + 1))

    async def add_once(self, entry: AuditEntry) -> None:
        same = (entry.at, entry.actor_account_id, entry.action, entry.organisation_id)
        if not any((e.at, e.actor_account_id, e.action, e.organisation_id) == same for e in self.entries):
            await self.add(entry)

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

    async def purge_before(
        self,
        moment: datetime,
        actions: frozenset[AuditAction] | None = None,
        organisation_id: UUID | None = None,
    ) -> int:
        def doomed(e: AuditEntry) -> bool:
            return (
                e.at < moment
                and (actions is None or e.action in actions)
                and (organisation_id is None or e.organisation_id == organisation_id)
            )

        kept = [e for e in self.entries if not doomed(e)]
        gone = len(self.entries) - len(kept)
        self.entries = kept
        return gone

    async def purge_unlisted(self, actions: frozenset[AuditAction], organisation_ids: set[UUID]) -> int:
        kept = [e for e in self.entries if e.action not in actions or e.organisation_id in organisation_ids]
        gone = len(self.entries) - len(kept)
        self.entries = kept
        return gone


def check_subject(subject: str | None) -> str | None:
    if subject is None:
        return None
    if not SUBJECT.fullmatch(subject):
        raise ValueError("an audit subject is an id or a kind, never text")
    return subject

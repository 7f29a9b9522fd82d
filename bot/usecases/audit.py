"""The audit log of console actions: who signed in, unlocked, replied, classified, invited, exported, changed what.

API note (for every console feature):
- `await services.audit.record(account.id, AuditAction.X, organisation_id=org.id, subject="…")` after the action
  succeeded. `actor_account_id` is the console account's id (None for the system, e.g. a CLI command);
  `subject` names *what* was acted on by id or kind ("conversation", a schedule's id, a setting's name), never
  content: anything that is not a short lowercase token is refused with `ValueError`.
- Actions on a conversation (`CONVERSATION_ACTIONS`: unlocked, replied, classified, labelled, status, whistleblowing
  duty) carry only a kind as subject ("conversation", "inbox"), never an id, and an organisation. They are kept by
  the day (UTC), once per counsellor, organisation, action and day, and purged once the organisation's conversation
  retention has passed (or the audit retention, if that is shorter; at once when the organisation is gone): the
  log must not say when a conversation was active after the conversation's own erasure (DESIGN §4.4, §4.6).
  Every other action is kept to the minute for `VIPBOT_AUDIT_RETENTION_DAYS` (default 365).
- The confidential channel's housekeeping round purges (`AuditLog.purge` with each organisation's retention);
  administrators read the log at `/console/audit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, timedelta
from uuid import UUID

from bot.domain.audit import (
    CONVERSATION,
    CONVERSATION_ACTIONS,
    CONVERSATION_SUBJECTS,
    PAGE_SIZE,
    AuditAction,
    AuditEntry,
    AuditPage,
    AuditQuery,
    AuditStore,
    MemoryAuditStore,
    check_subject,
)
from bot.domain.clock import Clock

__all__ = [
    "CONVERSATION",
    "CONVERSATION_ACTIONS",
    "PAGE_SIZE",
    "AuditAction",
    "AuditEntry",
    "AuditLog",
    "AuditPage",
    "AuditQuery",
    "AuditStore",
    "MemoryAuditStore",
]


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
        action = AuditAction(action)
        subject = check_subject(subject)
        if action not in CONVERSATION_ACTIONS:
            at = self.clock.now().replace(second=0, microsecond=0)
            await self.store.add(AuditEntry(at, actor_account_id, action, organisation_id, subject))
            return
        if organisation_id is None or subject not in CONVERSATION_SUBJECTS:
            raise ValueError("an action on a conversation names its organisation and a kind, never an id")
        day = self.clock.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        await self.store.add_once(AuditEntry(day, actor_account_id, action, organisation_id, subject))

    async def list(self, query: AuditQuery) -> AuditPage:
        return await self.store.list(query)

    async def purge(self, conversation_retention: Mapping[UUID, int] | None = None) -> int:
        """Delete what is older than the audit retention, and actions on conversations once the conversation
        retention of their organisation (`conversation_retention`: days per organisation id) has passed — at
        once for an organisation not in it. Safe to run on several replicas at once.

        A conversation erased by expiry had its last activity on or after the day of any action on it, and is
        erased `retention` days after that (in the organisation's time zone); the entry, stored at the start of
        its UTC day, goes one day earlier than that so no time zone can make it outlive the conversation.
        """
        now = self.clock.now()
        retention = dict(conversation_retention or {})
        gone = await self.store.purge_before(now - self.retention)
        for organisation_id, days in retention.items():
            kept = min(self.retention, timedelta(days=days)) - timedelta(days=1)
            gone += await self.store.purge_before(now - kept, CONVERSATION_ACTIONS, organisation_id)
        gone += await self.store.purge_unlisted(CONVERSATION_ACTIONS, set(retention))
        return gone

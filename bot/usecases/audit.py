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

from datetime import timedelta
from uuid import UUID

from bot.domain.audit import (
    CONVERSATION,
    PAGE_SIZE,
    AuditAction,
    AuditEntry,
    AuditPage,
    AuditQuery,
    AuditStore,
    AuditTrail,
    MemoryAuditStore,
    check_subject,
)
from bot.domain.clock import Clock

__all__ = [
    "CONVERSATION",
    "PAGE_SIZE",
    "AuditAction",
    "AuditEntry",
    "AuditLog",
    "AuditPage",
    "AuditQuery",
    "AuditStore",
    "AuditTrail",
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
        at = self.clock.now().replace(second=0, microsecond=0)
        await self.store.add(
            AuditEntry(at, actor_account_id, AuditAction(action), organisation_id, check_subject(subject))
        )

    async def list(self, query: AuditQuery) -> AuditPage:
        return await self.store.list(query)

    async def purge(self) -> int:
        """Delete what is older than the retention; safe to run on several replicas at once."""
        return await self.store.purge_before(self.clock.now() - self.retention)

"""What waits for a counsellor in their inboxes, per organisation: for the menu's "Gesprekken (n)" and the home page.

Read from what is stored in the clear (status, days, who wrote each message, whistleblowing dates): nothing is
decrypted, so it works while the inbox is locked. Computed once per counsellor for `TTL` seconds; the
counsellor's own changes (any POST) forget it at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from uuid import UUID

import jinja2
from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.domain.accounts import Account
from bot.domain.conversations import ConversationSummary, InboxState, today_in
from bot.storage.conversations import SqlConversationStore
from bot.web.console.auth import ACCOUNT, Console, console_of
from bot.web.console.cache import Expiring

TTL = 3.0
#: A whistleblowing deadline shows on the home page from this long before it falls due.
DEADLINE_WARNING = timedelta(days=14)
WAITING = web.RequestKey("console_waiting", dict[UUID, "OrganisationInbox"])
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Deadline:
    conversation: ConversationSummary
    what: str  # acknowledge | feedback
    by: date
    overdue: bool


@dataclass(frozen=True, slots=True)
class OrganisationInbox:
    organisation_id: UUID
    conversations: tuple[ConversationSummary, ...] = ()
    deadlines: tuple[Deadline, ...] = field(default=())

    def in_state(self, *states: InboxState) -> list[ConversationSummary]:
        return [c for c in self.conversations if c.state in states]

    @property
    def needs_you(self) -> int:
        """New conversations and those waiting for the counsellor's answer: the menu's count."""
        return sum(1 for c in self.conversations if c.state.needs_counsellor)


def _overview(summaries: list[ConversationSummary], today: date) -> dict[UUID, OrganisationInbox]:
    by_org: dict[UUID, list[ConversationSummary]] = {}
    for summary in summaries:
        by_org.setdefault(summary.organisation_id, []).append(summary)
    found = {}
    for organisation_id, conversations in by_org.items():
        deadlines = [
            Deadline(c, what, by, overdue)
            for c in conversations
            if c.whistleblowing is not None
            for what, by, overdue in c.whistleblowing.due(today)
            if by - today <= DEADLINE_WARNING
        ]
        deadlines.sort(key=lambda d: d.by)
        found[organisation_id] = OrganisationInbox(organisation_id, tuple(conversations), tuple(deadlines))
    return found


async def inbox_overview(console: Console, account: Account) -> dict[UUID, OrganisationInbox]:
    """Per organisation the account may see, what its counsellor key holds; empty without a key."""
    counsellor_id = account.counsellor_id
    if counsellor_id is None:
        return {}
    cache: Expiring[dict[UUID, OrganisationInbox]] = console.expiring("inbox_overview", TTL)

    async def compute() -> dict[UUID, OrganisationInbox]:
        store = SqlConversationStore(console.services.sessions)
        summaries = await store.inbox(counsellor_id)
        return _overview(summaries, today_in(console.services.clock))

    overview = await cache.get_or_compute(counsellor_id, compute)
    return {k: v for k, v in overview.items() if account.can_see(k)}


def forget_overview(console: Console, account: Account) -> None:
    if account.counsellor_id is not None:
        console.expiring("inbox_overview", TTL).pop(account.counsellor_id)


def waiting_middleware() -> Middleware:
    """For pages (GET) of a signed-in counsellor: the overview, for the menu. After a change: forgotten."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        account = request.get(ACCOUNT)
        if account is None or account.counsellor_id is None or "/static/" in request.path:
            return await handler(request)
        console = console_of(request)
        if request.method == "GET":
            request[WAITING] = await inbox_overview(console, account)
            return await handler(request)
        try:
            return await handler(request)
        finally:
            forget_overview(console, account)

    return middleware


@jinja2.pass_context
def waiting_count(context: jinja2.runtime.Context, organisation_id: UUID) -> int | None:
    """The menu's count for one organisation (None: no count to show)."""
    request = context.get("request")
    if request is None or WAITING not in request:
        return None
    found = request[WAITING].get(organisation_id)
    return found.needs_you if found is not None else 0

"""The console home's "what needs me?": across every organisation the account may see, what waits for it.

- conversations (from the counsellor's key shares: new or waiting for the counsellor, and how many wait for the
  employee), read from clear metadata only, so the home page works with the inbox locked;
- legal whistleblowing deadlines that fall within `DEADLINE_WARNING` (or are overdue);
- deliveries due in the last `FAILED_WITHIN` that failed;
- team sessions in the next `SESSIONS_WITHIN`.
Each is computed once per account for `TTL` seconds (the inbox part: see `bot.web.console.waiting`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from aiohttp import web
from markupsafe import Markup
from sqlmodel import col, func, select

from bot.domain.accounts import Account
from bot.domain.conversations import ConversationSummary, InboxState
from bot.domain.home import UpcomingSession
from bot.domain.tenancy import Organisation
from bot.web.console.auth import Console, console_of
from bot.web.console.cache import Expiring
from bot.web.console.outreach_bridge import outreach_of
from bot.web.console.waiting import Deadline, OrganisationInbox, inbox_overview
from bot.web.shared.templates import TEMPLATES, Fragment, request_locale

TTL = 5.0
FAILED_WITHIN = timedelta(days=7)
SESSIONS_WITHIN = timedelta(days=14)
SESSIONS_SHOWN = 3
#: Conversations listed per organisation on the home page; the rest are one click away in the inbox's filter.
CONVERSATIONS_SHOWN = 5


@dataclass(frozen=True, slots=True)
class OrganisationNeeds:
    organisation: Organisation
    needs_you: tuple[ConversationSummary, ...] = ()
    needs_you_count: int = 0
    waiting_for_employee: int = 0
    deadlines: tuple[Deadline, ...] = ()
    failed: int = 0
    sessions: tuple[UpcomingSession, ...] = field(default=())

    @property
    def anything(self) -> bool:
        return bool(
            self.needs_you or self.waiting_for_employee or self.deadlines or self.failed or self.sessions
        )


@dataclass(frozen=True, slots=True)
class Needs:
    organisations: tuple[OrganisationNeeds, ...]

    @property
    def anything(self) -> bool:
        return any(o.anything for o in self.organisations)

    @property
    def needs_you(self) -> int:
        return sum(o.needs_you_count for o in self.organisations)

    @property
    def deadlines(self) -> int:
        return sum(len(o.deadlines) for o in self.organisations)


async def _failed_deliveries(console: Console, organisation_ids: list[UUID]) -> dict[UUID, int]:
    try:
        from bot.storage.tables_outreach import OutreachDeliveryRow
    except ImportError:  # pragma: no cover - outreach not installed
        return {}
    since = console.now() - FAILED_WITHIN
    async with console.services.sessions() as session:
        rows = (
            await session.exec(
                select(OutreachDeliveryRow.organisation_id, func.count())
                .where(col(OutreachDeliveryRow.status) == "failed")
                .where(col(OutreachDeliveryRow.not_before) >= since)
                .where(col(OutreachDeliveryRow.organisation_id).in_(organisation_ids))
                .group_by(col(OutreachDeliveryRow.organisation_id))
            )
        ).all()
    return {organisation_id: int(count) for organisation_id, count in rows}


async def _sessions(console: Console, organisation_id: UUID) -> tuple[UpcomingSession, ...]:
    calendar = console.services.session_calendar or outreach_of(console.services).team_sessions
    now = console.now()
    upcoming = await calendar.upcoming(organisation_id, now, SESSIONS_SHOWN)
    return tuple(s for s in upcoming if s.starts_at <= now + SESSIONS_WITHIN)


def _of(
    organisation: Organisation, inbox: OrganisationInbox | None
) -> tuple[tuple[ConversationSummary, ...], int]:
    if inbox is None:
        return (), 0
    waiting = len(inbox.in_state(InboxState.WAITING_FOR_EMPLOYEE))
    return tuple(c for c in inbox.conversations if c.state.needs_counsellor), waiting


def needs_key(console: Console, account: Account, organisations: list[Organisation]) -> tuple[object, ...]:
    """What the home page's list is derived from: the account, its organisations and their versions."""
    versions = tuple(console.version(o.id) for o in organisations)
    return (account.id, account.counsellor_id, tuple(o.id for o in organisations), versions)


async def what_needs(console: Console, account: Account, organisations: list[Organisation]) -> Needs:
    cache: Expiring[Needs] = console.expiring("home_needs", TTL)
    key = needs_key(console, account, organisations)

    async def compute() -> Needs:
        overview = await inbox_overview(console, account)
        failed = await _failed_deliveries(console, [o.id for o in organisations])
        found = []
        for organisation in sorted(organisations, key=lambda o: o.name.casefold()):
            inbox = overview.get(organisation.id)
            needs_you, waiting = _of(organisation, inbox)
            found.append(
                OrganisationNeeds(
                    organisation=organisation,
                    needs_you=needs_you[:CONVERSATIONS_SHOWN],
                    needs_you_count=len(needs_you),
                    waiting_for_employee=waiting,
                    deadlines=inbox.deadlines if inbox is not None else (),
                    failed=failed.get(organisation.id, 0),
                    sessions=await _sessions(console, organisation.id),
                )
            )
        return Needs(tuple(found))

    return await cache.get_or_compute(key, compute)


async def home_needs(request: web.Request, account: Account, organisations: list[Organisation]) -> Markup:
    """The home page's "what needs me?" section, rendered once per account, language and change for `TTL` s."""
    console = console_of(request)
    fragments: Expiring[Fragment] = console.expiring("home_needs_html", TTL, stale_factor=1.0)
    key = (*needs_key(console, account, organisations), request_locale(request))

    async def compute() -> Fragment:
        needs = await what_needs(console, account, organisations)
        return request.config_dict[TEMPLATES].fragment(request, "home_needs.html", needs=needs)

    # One rendering for all who ask at once (not one each when the entry has just expired).
    fragment = await fragments.get_or_compute(key, compute)
    return fragment.fill(request)

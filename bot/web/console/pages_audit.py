"""The audit log for administrators: `/console/audit`, newest first, filtered by action and organisation, paged."""

from __future__ import annotations

import contextlib
from uuid import UUID

from aiohttp import web

from bot.domain.accounts import Role
from bot.usecases.audit import AuditAction, AuditQuery
from bot.web.console.auth import console_of, require
from bot.web.console.cache import Expiring
from bot.web.console.pages_main import all_organisations
from bot.web.shared.templates import TEMPLATES, Fragment, render, request_locale

MAX_PAGE = 10_000


def _query(request: web.Request) -> AuditQuery:
    """The filter from the query string; anything unknown is simply no filter."""
    action: AuditAction | None = None
    organisation_id: UUID | None = None
    page = 1
    with contextlib.suppress(ValueError):
        action = AuditAction(request.query.get("action", ""))
    with contextlib.suppress(ValueError):
        organisation_id = UUID(request.query.get("organisation", ""))
    with contextlib.suppress(ValueError):
        page = min(max(int(request.query.get("page", "1")), 1), MAX_PAGE)
    return AuditQuery(action=action, organisation_id=organisation_id, page=page)


#: Rendered tables, keyed by everything they show: a reload with nothing new logged renders nothing again.
AUDIT_PAGES_TTL = 60.0
#: Account names the log shows (who did what): read once for a few seconds, not on every page view.
ACCOUNT_NAMES_TTL = 5.0


async def audit_page(request: web.Request) -> web.StreamResponse:
    account = await require(request, Role.ADMIN)
    console = console_of(request)
    query = _query(request)
    found = await console.services.audit.list(query)
    organisations = await all_organisations(console)  # an administrator sees every organisation
    names: Expiring[dict[UUID, str]] = console.expiring("audit_account_names", ACCOUNT_NAMES_TTL)
    account_names = await names.get_or_compute("all", console.accounts.display_names)
    locale = request_locale(request)
    key = (
        query,
        tuple(entry.id for entry in found.entries),  # an entry never changes: its id names it
        found.has_next,
        tuple((o.id, o.name) for o in organisations),
        tuple(sorted(account_names.items())),
        locale,
    )
    here = request.app.router["audit"].url_for()

    def page_url(page: int) -> str:
        params = {"page": str(page)}
        if query.action is not None:
            params["action"] = query.action.value
        if query.organisation_id is not None:
            params["organisation"] = str(query.organisation_id)
        return str(here.with_query(params))

    async def compute() -> Fragment:
        return request.config_dict[TEMPLATES].fragment(
            request,
            "audit_main.html",
            entries=found.entries,
            query=query,
            actions=list(AuditAction),
            organisations=organisations,
            organisation_names={o.id: o.name for o in organisations},
            account_names=account_names,
            previous_url=page_url(found.page - 1) if found.page > 1 else None,
            next_url=page_url(found.page + 1) if found.has_next else None,
            retention_days=console.services.settings.audit_retention_days,
        )

    pages: Expiring[Fragment] = console.expiring("audit_pages", AUDIT_PAGES_TTL)
    body = await pages.get_or_compute(key, compute)
    return render(request, "audit.html", account=account, page="audit", body=body.fill(request))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/audit", audit_page, name="audit")

"""An organisation's settings, `/console/o/<org>/settings`: name, language, time zone, retention, its own
sociale kaart entries, where management summaries go and who receives them; and offboarding,
`/console/o/<org>/offboarding`: the reports downloaded, then the organisation erased with its keys.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from aiohttp import web

from bot.domain.accounts import Role
from bot.domain.content import SocialMapEntry, Text
from bot.domain.practice import (
    ManagementChannel,
    ManagementViewer,
    OrganisationSettings,
    SettingsProblem,
    entry_problem,
)
from bot.domain.tenancy import Organisation, Platform, slugify
from bot.errors import NotFoundError
from bot.storage.practice import SqlPracticeStore
from bot.storage.pulses import SqlPulseStore, master_key_from
from bot.usecases.audit import AuditAction
from bot.web.console.auth import (
    Console,
    console_of,
    current_account,
    forget_sessions,
    organisation_for,
    organisation_rows,
)
from bot.web.console.cache import Expiring
from bot.web.console.pages_auth import see_other
from bot.web.console.pages_main import field, forget_organisation_list
from bot.web.console.report import Period, build_report
from bot.web.shared.templates import TEMPLATES, Fragment, render, request_locale, translate
from bot.web.shared.urls import url_for

OWN_ENTRY = "own"
#: The page's body is remembered this long: the console's own changes bump the organisation's version (part of
#: the key), so they show at once; a change made elsewhere (`vipbot pulse management-channel`) within this time.
SETTINGS_TTL = 5.0


@dataclass(frozen=True, slots=True)
class OwnSettings:
    """What the settings page shows from the organisation's own rows."""

    entries: tuple[SocialMapEntry, ...]
    channels: tuple[ManagementChannel, ...]
    viewers: tuple[ManagementViewer, ...]


async def own_settings(console: Console, organisation: Organisation) -> OwnSettings:
    """The organisation's own sociale kaart entries, management channels and viewers, in one session."""
    entries, channels, viewers = await SqlPracticeStore(console.services.sessions).own_settings(
        organisation.id
    )
    return OwnSettings(entries, tuple(channels), tuple(viewers))


def _store(request: web.Request) -> SqlPracticeStore:
    return SqlPracticeStore(console_of(request).services.sessions)


async def _changed(request: web.Request, organisation: Organisation, what: str) -> None:
    account = current_account(request)
    await console_of(request).services.audit.record(
        account.id if account else None, AuditAction.SETTINGS_CHANGED, organisation.id, what
    )


def _back(request: web.Request, organisation: Organisation, **query: str) -> web.Response:
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    return see_other(
        url_for(request, "org_settings", org=organisation.slug) + (f"?{suffix}" if suffix else "")
    )


def _problem(request: web.Request, organisation: Organisation, problem: SettingsProblem) -> web.Response:
    return _back(request, organisation, error=problem.value)


async def settings_page(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    console = console_of(request)
    pages: Expiring[Fragment] = console.expiring("settings_pages", SETTINGS_TTL, stale_factor=1.0)
    # The organisation row itself is in the key: a change made elsewhere (a rename) makes a new entry.
    key = (organisation, console.version(organisation.id), request_locale(request))

    async def compute() -> Fragment:
        found = await own_settings(console, organisation)
        return request.config_dict[TEMPLATES].fragment(
            request,
            "settings_main.html",
            organisation=organisation,
            template_entries=console.services.content.catalog.social_map,
            own_entries=found.entries,
            own_ids={e.id for e in found.entries},
            channels=found.channels,
            viewers=found.viewers,
            platforms=list(Platform),
        )

    # One rendering for all who ask at once, and for every reload until something changes.
    body = await pages.get_or_compute(key, compute)
    error = request.query.get("error")
    return render(
        request,
        "settings.html",
        account=account,
        organisation=organisation,
        page="org_settings",
        error=error if error in {p.value for p in SettingsProblem} else None,
        done=request.query.get("done") in {"general", "social", "management", "viewers"},
        body=body.fill(request),
    )


async def save_general(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    try:
        retention = int(field(form, "retention_days", 6))
    except ValueError:
        return _problem(request, organisation, SettingsProblem.RETENTION_RANGE)
    settings = OrganisationSettings(
        name=field(form, "name", 200),
        locale=field(form, "locale", 8),
        timezone=field(form, "timezone", 64),
        retention_days=retention,
    )
    problem = settings.problem()
    if problem is not None:
        return _problem(request, organisation, problem)
    await _store(request).update_organisation(organisation.id, settings)
    organisation_rows(console_of(request)).pop(organisation.slug)
    forget_organisation_list(console_of(request))  # the home page and the audit log name it anew
    await _changed(request, organisation, "general")
    return _back(request, organisation, done="general")


async def save_social_entry(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    catalog = console_of(request).services.content.catalog
    chosen = field(form, "entry", 60)
    base = next((e for e in catalog.social_map if e.id == chosen), None)
    name_nl, name_en = field(form, "name_nl", 200), field(form, "name_en", 200)
    description_nl, description_en = field(form, "description_nl", 2000), field(form, "description_en", 2000)
    hours_nl, hours_en = field(form, "hours_nl", 200), field(form, "hours_en", 200)
    entry_id = base.id if base is not None else (field(form, "entry_id", 60) or slugify(name_nl))
    entry = SocialMapEntry(
        id=entry_id,
        kind=base.kind if base is not None else "internal",
        name=Text(
            name_nl or (base.name.nl if base else ""), name_en or name_nl or (base.name.en if base else "")
        ),
        description=Text(
            description_nl or (base.description.nl if base else ""),
            description_en or description_nl or (base.description.en if base else ""),
        ),
        phone=field(form, "phone", 40) or None,
        url=field(form, "url", 500) or None,
        hours=Text(hours_nl, hours_en or hours_nl) if hours_nl else (base.hours if base else None),
    )
    problem = entry_problem(entry)
    if problem is not None:
        return _problem(request, organisation, problem)
    await _store(request).save_social_entry(organisation.id, entry)
    await _changed(request, organisation, "social_map")
    return _back(request, organisation, done="social")


async def remove_social_entry(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    await _store(request).remove_social_entry(organisation.id, field(form, "entry", 60))
    await _changed(request, organisation, "social_map")
    return _back(request, organisation, done="social")


async def save_management_channel(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    platform = field(form, "platform", 16)
    if platform not in {p.value for p in Platform}:
        return _problem(request, organisation, SettingsProblem.PLATFORM)
    if form.get("remove"):
        await _store(request).remove_management_channel(organisation.id, platform)
        await _changed(request, organisation, "management_channel")
        return _back(request, organisation, done="management")
    workspace, channel = field(form, "workspace", 64), field(form, "channel", 200)
    if not workspace or not channel:
        return _problem(request, organisation, SettingsProblem.CHANNEL)
    services = console_of(request).services
    key = services.settings.secret_key
    if key is None:  # pragma: no cover - the console does not start without one
        raise web.HTTPInternalServerError()
    # The same store and method as `vipbot pulse management-channel`.
    await SqlPulseStore(services.engine, master_key_from(key.get_secret_value())).set_management_channel(
        organisation.id, Platform(platform), workspace, channel
    )
    await _changed(request, organisation, "management_channel")
    return _back(request, organisation, done="management")


async def add_viewer(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    name, email = field(form, "name", 200), field(form, "email", 320)
    platform, user = field(form, "platform", 16), field(form, "platform_user_id", 200)
    if not name:
        return _problem(request, organisation, SettingsProblem.VIEWER_NAME)
    if email and "@" not in email:
        return _problem(request, organisation, SettingsProblem.VIEWER_EMAIL)
    if (platform or user) and (platform not in {p.value for p in Platform} or not user):
        return _problem(request, organisation, SettingsProblem.PLATFORM)
    await _store(request).add_viewer(organisation.id, name, email or None, platform or None, user or None)
    await _changed(request, organisation, "management_viewers")
    return _back(request, organisation, done="viewers")


async def remove_viewer(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = await request.post()
    try:
        viewer = UUID(field(form, "viewer", 64))
    except ValueError:
        raise web.HTTPBadRequest() from None
    await _store(request).remove_viewer(organisation.id, viewer)
    await _changed(request, organisation, "management_viewers")
    return _back(request, organisation, done="viewers")


# -- offboarding ---------------------------------------------------------------------------------------------
async def offboarding_page(request: web.Request) -> web.StreamResponse:
    """Counsellors see what would be erased and may export; only an administrator erases."""
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    error = request.query.get("error")
    return render(
        request,
        "offboarding.html",
        status=400 if error else 200,
        account=account,
        organisation=organisation,
        page="org_settings",
        summary=await _store(request).offboarding_summary(organisation.id),
        error="console.offboarding.confirm_wrong" if error else None,
    )


async def export_reports(request: web.Request) -> web.StreamResponse:
    """Every periodic report of the organisation (each year and its halves, from the year it was added), as
    the PDFs the report page gives, in one ZIP: what the practice keeps after offboarding."""
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    console = console_of(request)
    t, locale = translate(request), request_locale(request)
    now = console.now()
    first = (await _store(request).created_on(organisation.id)).year
    # fpdf is loaded at the first PDF, not at every start of the service.
    from bot.web.console.report_pdf import report_pdf

    files: list[tuple[str, bytes]] = []
    for year in range(first, now.year + 1):
        for key in (f"{year}-H1", f"{year}-H2", str(year)):
            period = Period.parse(key, now.date())
            if period.start > now.date():
                continue
            data = await build_report(console.services, organisation, period, t, locale)
            pdf = await asyncio.to_thread(report_pdf, data, t, locale, now)
            files.append((f"vipbot-{organisation.slug}-{period.key}.pdf", pdf))
    archive = await asyncio.to_thread(_zip, files, now)
    await console.services.audit.record(account.id, AuditAction.EXPORTED, organisation.id, "reports")
    name = f"vipbot-{organisation.slug}-reports.zip"
    return web.Response(
        body=archive,
        content_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def _zip(files: list[tuple[str, bytes]], now: datetime) -> bytes:
    out = io.BytesIO()
    stamp = (now.year, now.month, now.day, now.hour, now.minute, now.second)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), content)
    return out.getvalue()


async def erase(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.ADMIN)
    form = await request.post()
    if field(form, "confirm", 60) != organisation.slug:
        return see_other(url_for(request, "org_offboarding", org=organisation.slug) + "?error=confirm")
    try:
        await _store(request).erase_organisation(organisation.id)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    console = console_of(request)
    # Who erased an organisation stays accountable; which one it was is not kept (nothing of it may remain).
    await console.services.audit.record(account.id, AuditAction.ORGANISATION_ERASED, None, "organisation")
    organisation_rows(console).pop(organisation.slug)
    forget_organisation_list(console)
    forget_sessions(request)  # counsellors' and viewers' sessions no longer see it
    return see_other(str(request.app.router["home"].url_for()))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/o/{org}/settings", settings_page, name="org_settings")
    app.router.add_post("/o/{org}/settings", save_general, name="org_settings_save")
    app.router.add_post("/o/{org}/settings/social", save_social_entry, name="org_social_save")
    app.router.add_post("/o/{org}/settings/social/remove", remove_social_entry, name="org_social_remove")
    app.router.add_post(
        "/o/{org}/settings/management", save_management_channel, name="org_management_channel"
    )
    app.router.add_post("/o/{org}/settings/viewers", add_viewer, name="org_viewer_add")
    app.router.add_post("/o/{org}/settings/viewers/remove", remove_viewer, name="org_viewer_remove")
    app.router.add_get("/o/{org}/offboarding", offboarding_page, name="org_offboarding")
    app.router.add_get("/o/{org}/reports.zip", export_reports, name="org_export")
    app.router.add_post("/o/{org}/offboarding", erase, name="org_erase")

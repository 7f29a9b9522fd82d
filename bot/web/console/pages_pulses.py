"""Pulses in the console: which pulse sets there are, their schedules, and the rounds — planned, edited and closed
here through the same use cases as `vipbot pulse …` and `vipbot schedule …`.

Planning a pulse is a schedule whose item is the pulse set (the schedule form, with its next five occurrences and
its "send now…" step); closing a round is `bot.usecases.pulses.close_round`. Nothing on these pages says anything
about answers — not a count, not who: results are only ever shown on the insights page, from a release.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_datetime

from bot.domain.accounts import Role
from bot.domain.outreach import What
from bot.domain.pulses import Pulse, PulseService, PulseStatus
from bot.domain.tenancy import Organisation
from bot.storage.pulses import SqlPulseStore, master_key_from
from bot.usecases.pulses import PulseRefusedError, close_round, rounds_of
from bot.web.console.auth import console_of, organisation_for
from bot.web.console.outreach_bridge import outreach_of
from bot.web.console.pages_auth import see_other
from bot.web.console.pages_schedule import PULSE_PROBLEM_KEYS
from bot.web.shared.templates import render, request_locale, translate
from bot.wiring import Services


@dataclass(frozen=True, slots=True)
class RoundRow:
    id: str
    title: str
    group: str
    opened: str
    closes: str
    open: bool
    note: str


def _store(services: Services) -> SqlPulseStore | None:
    key = services.settings.secret_key
    if key is None:
        return None
    return SqlPulseStore(services.engine, master_key_from(key.get_secret_value()))


def _service(services: Services, store: SqlPulseStore) -> PulseService:
    if services.pulses is not None:
        return services.pulses.service
    return PulseService(store, services.content.catalog.pulse_sets, services.clock)


def _when(moment: datetime, organisation: Organisation, locale: str) -> str:
    return format_datetime(
        moment.astimezone(ZoneInfo(organisation.timezone)), "EEEE d MMMM y, HH:mm", locale=locale
    )


async def _rows(request: web.Request, organisation: Organisation, store: SqlPulseStore) -> list[RoundRow]:
    services = console_of(request).services
    t = translate(request)
    locale = request_locale(request)
    now = console_of(request).now()
    rows = []
    for pulse in await rounds_of(store, organisation.id):
        pulse_set = services.content.catalog.pulse_set(pulse.pulse_set_id)
        group = next((g.name for g in pulse.tree.groups if g.id == pulse.audience_group_id), "")
        is_open = pulse.is_open_at(now)
        local = pulse.opened_at.astimezone(ZoneInfo(organisation.timezone))
        month = t(f"console.schedule.month_name.{local.month}")
        note = (
            t("console.pulses.open_note")
            if is_open
            else t("console.pulses.closed_note", month=month, year=local.year)
        )
        rows.append(
            RoundRow(
                id=str(pulse.id),
                title=pulse_set.name.in_locale(locale) if pulse_set else pulse.pulse_set_id,
                group=group,
                opened=_when(pulse.opened_at, organisation, locale),
                closes=_when(pulse.closed_at or pulse.closes_at, organisation, locale),
                open=is_open,
                note=note,
            )
        )
    return rows


async def pulses_page(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    services = console_of(request).services
    locale = request_locale(request)
    store = _store(services)
    schedules = [
        s for s in await outreach_of(services).schedules.list_schedules(organisation) if s.what is What.PULSE
    ]
    sets = services.content.catalog.pulse_sets
    names = {p.id: p.name.in_locale(locale) for p in sets}
    return render(
        request,
        "pulses.html",
        account=account,
        organisation=organisation,
        page="pulses",
        pulse_sets=[(p.id, p.name.in_locale(locale), len(p.questions), p.window_days) for p in sets],
        schedules=[(s, names.get(s.item_id or "", s.item_id or "")) for s in schedules],
        rounds=await _rows(request, organisation, store) if store else [],
        notice=request.query.get("notice"),
        problem=problem_key(request.query.get("problem")),
    )


async def _round(request: web.Request, organisation: Organisation, store: SqlPulseStore) -> Pulse | None:
    from uuid import UUID

    try:
        round_id = UUID(request.query.get("round", ""))
    except ValueError:
        return None
    for pulse in await rounds_of(store, organisation.id):
        if pulse.id == round_id:
            return pulse
    return None


async def close_confirm(request: web.Request) -> web.StreamResponse:
    """The step before closing a round: no more answers after it, and when its figures can appear."""
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    services = console_of(request).services
    store = _store(services)
    rows = await _rows(request, organisation, store) if store else []
    chosen = await _round(request, organisation, store) if store else None
    row = next((r for r in rows if chosen is not None and r.id == str(chosen.id)), None)
    return render(
        request,
        "pulse_close.html",
        account=account,
        organisation=organisation,
        page="pulses",
        row=row,
        open_rows=[r for r in rows if r.open],
        closed=chosen is not None and chosen.status is PulseStatus.CLOSED,
    )


async def close_submit(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    console = console_of(request)
    services = console.services
    form = await request.post()
    round_id = str(form.get("round", ""))[:40]
    target = str(request.app.router["pulses"].url_for(org=organisation.slug))
    if form.get("confirm") != "1":
        close = str(request.app.router["pulse_close"].url_for(org=organisation.slug))
        return see_other(close + "?" + urlencode({"round": round_id}))
    store = _store(services)
    if store is None:
        raise web.HTTPNotFound()
    try:  # the same use case as `vipbot pulse close`
        await close_round(_service(services, store), store, organisation.id, round_id)
    except PulseRefusedError as exc:
        return see_other(target + "?" + urlencode({"problem": exc.problem.value}))
    console.bump(organisation.id)
    return see_other(target + "?notice=closed")


def problem_key(code: str | None) -> str | None:
    for problem, key in PULSE_PROBLEM_KEYS.items():
        if problem.value == code:
            return key
    return None


def add_routes(app: web.Application) -> None:
    app.router.add_get("/o/{org}/pulses", pulses_page, name="pulses")
    app.router.add_get("/o/{org}/pulses/close", close_confirm, name="pulse_close")
    app.router.add_post("/o/{org}/pulses/close", close_submit)

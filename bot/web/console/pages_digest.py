"""The monthly column digest in the console: last month's digest as Slack and Teams would show it, and its schedules.

The post is built by the same factory the outbox uses (`What.DIGEST`) and drawn by the same renderer registries,
so the preview is what a schedule with "what: digest" sends. Planning it goes through the same use case as
`vipbot schedule add … --what digest` (`bot/usecases/schedules.py`: the same checks, the same refusal codes, shown
next to their fields); it is edited with the schedule form and removed after a confirmation, like any schedule.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from uuid import uuid4

from aiohttp import web

from bot.domain.accounts import Role
from bot.domain.content import pick_locale
from bot.domain.outreach import Occurrence, What
from bot.domain.recurrence import WhenBlocked
from bot.domain.tenancy import Organisation, Platform
from bot.usecases.schedules import Frequency, next_post
from bot.web.console.auth import console_of, organisation_for
from bot.web.console.outreach_bridge import outreach_of
from bot.web.console.pages_auth import see_other
from bot.web.console.pages_schedule import ScheduleForm, moment_words, save_new
from bot.web.console.preview import preview
from bot.web.shared.templates import render, request_locale, translate


async def _render(
    request: web.Request, account: Any, organisation: Organisation, form: ScheduleForm, status: int = 200
) -> web.Response:
    console = console_of(request)
    services = console.services
    now = console.now()
    locale = pick_locale(request.query.get("preview") or request_locale(request))
    occurrence = Occurrence(uuid4(), organisation.id, None, now, now, What.DIGEST, None, locale)
    outreach = outreach_of(services)
    post = await outreach.posts.build(occurrence)
    calendar = await outreach.schedules.calendar(organisation.id)
    planned = []
    for schedule in await outreach.schedules.list_schedules(organisation):
        if schedule.what is What.DIGEST:
            upcoming = next_post(schedule, calendar, now)
            when = (
                None
                if upcoming is None
                else moment_words(upcoming, schedule.timezone, request_locale(request))
            )
            planned.append((schedule, when))
    tree = await services.organisations.group_tree(organisation.id)
    return render(
        request,
        "digest.html",
        status=status,
        account=account,
        organisation=organisation,
        page="digest",
        preview_locale=locale,
        previews=None if post is None else preview(post, locale, services.platforms),
        planned=planned,
        values=form,
        errors=form.errors,
        groups=tree.groups,
        platforms=list(Platform),
    )


def _new_form(request: web.Request) -> ScheduleForm:
    """A monthly digest on the first of the month at nine, moved on when that falls on a weekend or holiday."""
    return ScheduleForm(
        what=What.DIGEST.value,
        name=translate(request)("console.digest.default_name"),
        frequency=Frequency.MONTHLY.value,
        day_of_month="1",
        at="09:00",
        when_blocked=WhenBlocked.DEFER.value,
    )


async def digest_page(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    return await _render(request, account, organisation, _new_form(request))


async def digest_schedule(request: web.Request) -> web.StreamResponse:
    """Plan the digest: the schedule form's checks and the same use case as `vipbot schedule add`."""
    account, organisation = await organisation_for(request, Role.COUNSELLOR)
    form = ScheduleForm.from_post(await request.post())
    form.what = What.DIGEST.value  # this page plans only the digest
    form.item = ""
    if not await save_new(request, organisation, form):
        return await _render(request, account, organisation, form, status=400)
    target = str(request.app.router["digest"].url_for(org=organisation.slug))
    return see_other(target + "?" + urlencode({"saved": form.name}))


def register(console: web.Application) -> None:
    console.router.add_get("/o/{org}/digest", digest_page, name="digest")
    console.router.add_post("/o/{org}/digest", digest_schedule)

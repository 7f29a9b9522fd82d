"""Pulses and insights inside `vipbot serve`.

- A schedule with `What.PULSE` and the pulse set's id as item opens a round when it fires (one round per
  occurrence, however many replicas build it) and posts it to the schedule's audience. An item
  `reminder:<pulse set id>` posts a reminder for the open round to the schedule's audience — the whole audience:
  nobody can know who has not answered.
- Every minute, rounds whose window has passed are closed (key, participation rows and counters destroyed, the
  tally written). A period (a month) whose rounds have all closed is then released once — pooled, noise drawn
  and stored, charged to the privacy accountant (`bot.domain.insights.release_due`) — and its summary is sent,
  with its chart, to the organisation's management channels and to the DMs of management viewers with a chat
  address, as the monthly overview. On the first day of a month the latest overview is sent again unless a
  release just sent it. Every summary reads the stored release: sending again spends nothing.
- The pulse posts are rendered through each platform's registry (`bot/adapters/<platform>/posts.py`); Slack's
  answer buttons and Teams' card submits are registered here.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from aiohttp import web

from bot.domain.delivery import DeliveryError, Gateway, Rendered, RendererRegistry, portal_link
from bot.domain.insights import (
    hidden_explanation,
    load_insights,
    release_due,
    summary_groups,
    summary_heading,
    trend_line,
)
from bot.domain.outreach import Occurrence
from bot.domain.privacy import NoiseSource
from bot.domain.pulses import (
    REMINDER_PREFIX,
    ManagementSummaryPost,
    PulsePost,
    PulseReminderPost,
    PulseService,
    PulseStatus,
)
from bot.domain.tenancy import Platform
from bot.errors import ConfigError, NotFoundError
from bot.logs import get_logger
from bot.periodic import Periodic
from bot.security.noise import OpenDpNoise
from bot.storage.pulses import SqlPulseStore, master_key_from
from bot.wiring import Services

log = get_logger(__name__)

TICK_SECONDS = 60.0


@dataclass
class Pulses:
    services: Services
    store: SqlPulseStore
    service: PulseService
    noise: NoiseSource

    # --- outreach: the PostFactory for What.PULSE --------------------------------------------------------

    async def build(self, occurrence: Occurrence) -> PulsePost | PulseReminderPost | None:
        item = occurrence.item_id or ""
        organisation = await self.services.organisations.get_organisation(str(occurrence.organisation_id))
        portal = portal_link(self.services.settings.public_portal_url, organisation.slug)
        if item.startswith(REMINDER_PREFIX):
            set_id = item.removeprefix(REMINDER_PREFIX)
            if set_id not in {p.id for p in self.services.content.catalog.pulse_sets}:
                return None
            now = self.services.clock.now()
            open_rounds = [p for p in await self.store.rounds(organisation.id, set_id) if p.is_open_at(now)]
            if not open_rounds:
                return None
            pulse = open_rounds[-1]
            return PulseReminderPost(pulse.id, self.service.pulse_set(set_id), pulse.closes_at, portal)
        if item not in {p.id for p in self.services.content.catalog.pulse_sets}:
            log.warning("a pulse occurrence names no known pulse set; nothing is sent")
            return None
        tree = await self.services.organisations.group_tree(organisation.id)
        pulse = await self.service.open_round(organisation.id, item, tree, occurrence_id=occurrence.id)
        if pulse.status is not PulseStatus.OPEN:
            return None
        return PulsePost(pulse.id, self.service.pulse_set(item), pulse.closes_at, portal)

    # --- management summaries ----------------------------------------------------------------------------

    async def summary_post(
        self,
        organisation_id: UUID,
        pulse_set_id: str,
        *,
        monthly: bool = False,
        until: datetime | None = None,
    ) -> tuple[ManagementSummaryPost, str] | None:
        """The summary, in the organisation's language, built from the one anonymity path."""
        from bot.reporting.charts import chart_attachment

        organisation = await self.services.organisations.get_organisation(str(organisation_id))
        pulse_set = self.service.pulse_set(pulse_set_id)
        insights = await load_insights(self.store, pulse_set, organisation_id, until)
        if insights.latest is None:
            return None
        t = self.services.content.translator
        locale = organisation.locale
        title = t.t(
            locale,
            "insights.monthly_title" if monthly else "insights.summary_title",
            pulse=pulse_set.name.in_locale(locale),
            organisation=organisation.name,
        )
        post = ManagementSummaryPost(
            title=title,
            heading=summary_heading(insights, t, locale),
            groups=tuple(summary_groups(insights, t, locale)),
            trend=trend_line(insights, t, locale),
            hidden_explanation=hidden_explanation(insights, t, locale),
            # Drawing takes a few hundred milliseconds of CPU: not on the event loop, where requests wait.
            chart=await asyncio.to_thread(chart_attachment, insights, t, locale),
        )
        return post, locale

    def platforms(self) -> dict[Platform, tuple[RendererRegistry, Gateway]]:
        return {
            platform: (registry.renderers, registry.gateway)
            for platform, registry in self.services.platforms.items()
            if registry.gateway is not None
        }

    async def send_summary(self, organisation_id: UUID, pulse_set_id: str, *, monthly: bool = False) -> int:
        """Send the summary to every management target; returns how many received it whole.

        A summary too large for one message on a platform is several messages ("1/3", "2/3", …), sent in order; a
        target that refuses one of them is told nothing more (the rest would read as the whole)."""
        targets = await self.store.management_targets(organisation_id)
        if not targets:
            log.warning(
                "no management channel or viewer for pulse summaries",
                organisation=str(organisation_id),
            )
            return 0
        built = await self.summary_post(organisation_id, pulse_set_id, monthly=monthly)
        if built is None:
            return 0
        post, locale = built
        platforms = self.platforms()
        rendered: dict[Platform, tuple[Rendered, ...]] = {}
        sent = 0
        for target in targets:
            pair = platforms.get(target.platform)
            if pair is None:
                continue
            renderer, gateway = pair
            messages = rendered.get(target.platform)
            if messages is None:
                # Once per platform, off the event loop: laying out a large organisation's pages measures every
                # page as it grows (about a second for 500 groups on a busy machine).
                messages = rendered[target.platform] = await asyncio.to_thread(
                    renderer.render_parts, post, locale
                )
            try:
                for message in messages:
                    await gateway.send(target, message)
                sent += 1
            except DeliveryError as exc:
                log.warning(
                    "pulse summary not delivered",
                    platform=target.platform.value,
                    reason=exc.reason,
                    code=exc.failure.code.value if exc.failure else None,
                    messages=len(messages),
                )
        return sent

    async def tick(self) -> list[tuple[UUID, str, str]]:
        """Close due rounds, release due periods, and send each release's summary once (claimed first)."""
        await self.service.close_due()
        now = self.services.clock.now()
        sets = {p.id: p for p in self.services.content.catalog.pulse_sets}
        for organisation_id in await self.store.organisation_ids():
            await release_due(self.store, sets, organisation_id, now, self.noise)
        done: list[tuple[UUID, str, str]] = []
        for organisation_id, set_id, period in await self.store.releases_without_summary():
            if await self.store.mark_release_sent(organisation_id, set_id, period, now):
                await self.send_summary(organisation_id, set_id, monthly=True)
                done.append((organisation_id, set_id, period))
        return done

    async def monthly(self, organisation_id: UUID, pulse_set_id: str) -> int:
        return await self.send_summary(organisation_id, pulse_set_id, monthly=True)


def build_pulses(services: Services) -> Pulses:
    key = services.settings.secret_key
    if key is None:
        raise ConfigError("VIPBOT_SECRET_KEY", "is needed to seal pulse keys")
    store = SqlPulseStore(services.engine, master_key_from(key.get_secret_value()))
    service = PulseService(store, services.content.catalog.pulse_sets, services.clock)
    return Pulses(services, store, service, OpenDpNoise())


async def monthly_due(pulses: Pulses) -> int:
    """On the first day of a month, send every organisation's latest summaries again — once, whichever replica
    gets there first. Returns how many overviews this process sent."""
    now = pulses.services.clock.now()
    if now.day != 1:
        return 0
    month = f"{now:%Y-%m}"
    sent = 0
    for organisation in await pulses.services.organisations.list_organisations():
        for set_id in await pulses.store.pulse_set_ids(organisation.id):
            if not await pulses.store.claim_monthly(organisation.id, set_id, month):
                continue
            releases = await pulses.store.releases(organisation.id, set_id)
            if releases and max(r.released_at for r in releases) >= now.replace(hour=0, minute=0, second=0):
                continue  # released today: its summary was the overview
            with contextlib.suppress(NotFoundError):
                await pulses.monthly(organisation.id, set_id)
                sent += 1
    return sent


def install(app: web.Application, services: Services) -> None:
    if services.settings.secret_key is None:
        log.warning("pulses are off: no VIPBOT_SECRET_KEY to seal pulse keys with")
        return
    pulses = services.pulses if isinstance(services.pulses, Pulses) else build_pulses(services)
    services.pulses = pulses
    outreach = services.outreach
    if outreach is not None:
        from bot.domain.outreach import What

        if outreach.posts.registered(What.PULSE) is None:
            outreach.posts.register(What.PULSE, pulses)
    from bot.adapters.slack.service import SlackFeature
    from bot.adapters.teams.submits import SubmitRoutes

    slack = services.slack
    if isinstance(slack, SlackFeature):
        from bot.adapters.slack.pulses import register_pulse_actions

        async def locale_of(organisation_id: UUID) -> str:
            return (await services.organisations.get_organisation(str(organisation_id))).locale

        register_pulse_actions(
            slack.bolt, pulses.store, pulses.service, services.content.translator, locale_of
        )
    teams_submits = services.teams_submits
    if isinstance(teams_submits, SubmitRoutes):
        from bot.adapters.teams.pulses import register_pulse_submits

        register_pulse_submits(teams_submits, pulses.service, pulses.store, services.content.translator)
    if not services.settings.scheduler_enabled:
        return

    async def housekeeping() -> None:
        await pulses.tick()
        await monthly_due(pulses)

    loop = Periodic(housekeeping, "pulse housekeeping failed", TICK_SECONDS, "pulse-housekeeping", log)

    async def start(_app: web.Application) -> None:
        loop.start()

    async def stop(_app: web.Application) -> None:
        await loop.stop()

    app.on_startup.append(start)
    app.on_cleanup.insert(0, stop)

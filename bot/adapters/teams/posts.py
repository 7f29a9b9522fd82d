"""Every Post type Teams shows, with the function that renders it: the one place a post kind is registered for Teams.

A new post kind adds its render function (next to the feature's other Teams code) and one line here.
"""

from __future__ import annotations

from functools import partial

from bot.adapters.teams import render_sessions
from bot.adapters.teams.cards import CardKit, render_column, render_reminder
from bot.adapters.teams.digest import render_digest
from bot.adapters.teams.pulses import render_pulse, render_pulse_reminder, render_summary
from bot.domain.delivery import ColumnPost, ReminderPost, RendererRegistry
from bot.domain.digest import ColumnDigestPost
from bot.domain.i18n import Translator
from bot.domain.pulses import ManagementSummaryPost, PulsePost, PulseReminderPost
from bot.domain.team_sessions import SessionAnnouncementPost, SessionReminderPost
from bot.domain.tenancy import Platform


def register_posts(renderers: RendererRegistry, translator: Translator) -> None:
    kit = CardKit(translator)
    renderers.register(ColumnPost, partial(render_column, kit))
    renderers.register(ReminderPost, partial(render_reminder, kit))
    renderers.register(SessionAnnouncementPost, partial(render_sessions.render_announcement, translator))
    renderers.register(SessionReminderPost, partial(render_sessions.render_reminder, translator))
    renderers.register(PulsePost, partial(render_pulse, translator))
    renderers.register(PulseReminderPost, partial(render_pulse_reminder, translator))
    renderers.register_parts(ManagementSummaryPost, partial(render_summary, translator))
    renderers.register(ColumnDigestPost, partial(render_digest, translator))


def teams_renderers(translator: Translator) -> RendererRegistry:
    """Teams' registry with every post type, on its own (the service's is `services.platforms[Platform.TEAMS]`)."""
    renderers = RendererRegistry(Platform.TEAMS)
    register_posts(renderers, translator)
    return renderers

"""Every Post type Teams shows, with the function that renders it: the one place a post kind is registered for Teams.

A new post kind adds its render function (next to the feature's other Teams code) and one line here.
"""

from __future__ import annotations

from functools import partial

from bot.adapters.teams.cards import CardKit, TeamsRenderer
from bot.adapters.teams.digest import render_digest
from bot.adapters.teams.pulses import TeamsPulseRenderer
from bot.adapters.teams.render_sessions import render_session
from bot.domain.delivery import ColumnPost, ReminderPost, RendererRegistry
from bot.domain.digest import ColumnDigestPost
from bot.domain.i18n import Translator
from bot.domain.pulses import ManagementSummaryPost, PulsePost, PulseReminderPost
from bot.domain.team_sessions import SessionAnnouncementPost, SessionReminderPost


def register_posts(renderers: RendererRegistry, translator: Translator) -> None:
    library = TeamsRenderer(CardKit(translator))
    renderers.register(ColumnPost, library.render)
    renderers.register(ReminderPost, library.render)
    renderers.register(SessionAnnouncementPost, partial(render_session, translator))
    renderers.register(SessionReminderPost, partial(render_session, translator))
    pulses = TeamsPulseRenderer(renderers, translator)
    renderers.register(PulsePost, pulses.render)
    renderers.register(PulseReminderPost, pulses.render)
    renderers.register(ManagementSummaryPost, pulses.render)
    renderers.register(ColumnDigestPost, partial(render_digest, translator))

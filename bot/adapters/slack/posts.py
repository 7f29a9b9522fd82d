"""Every Post type Slack shows, with the function that renders it: the one place a post kind is registered for Slack.

A new post kind adds its render function (next to the feature's other Slack code) and one line here.
"""

from __future__ import annotations

from functools import partial

from bot.adapters.slack.blocks import render_column, render_reminder
from bot.adapters.slack.digest import render_digest
from bot.adapters.slack.pulses import render_pulse, render_pulse_reminder, render_summary
from bot.adapters.slack.render_sessions import render_session
from bot.domain.delivery import ColumnPost, ReminderPost, RendererRegistry
from bot.domain.digest import ColumnDigestPost
from bot.domain.i18n import Translator
from bot.domain.pulses import ManagementSummaryPost, PulsePost, PulseReminderPost
from bot.domain.team_sessions import SessionAnnouncementPost, SessionReminderPost
from bot.domain.tenancy import Platform


def register_posts(renderers: RendererRegistry, translator: Translator) -> None:
    renderers.register(ColumnPost, partial(render_column, translator))
    renderers.register(ReminderPost, partial(render_reminder, translator))
    renderers.register(SessionAnnouncementPost, partial(render_session, translator))
    renderers.register(SessionReminderPost, partial(render_session, translator))
    renderers.register(PulsePost, partial(render_pulse, translator))
    renderers.register(PulseReminderPost, partial(render_pulse_reminder, translator))
    renderers.register_parts(ManagementSummaryPost, partial(render_summary, translator))
    renderers.register(ColumnDigestPost, partial(render_digest, translator))


def slack_renderers(translator: Translator) -> RendererRegistry:
    """Slack's registry with every post kind (the composition root makes the process's own; tests use this)."""
    renderers = RendererRegistry(Platform.SLACK)
    register_posts(renderers, translator)
    return renderers

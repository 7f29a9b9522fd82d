"""The monthly column digest on Teams: one Adaptive Card with each column's title and summary, then the door."""

from __future__ import annotations

from babel.dates import format_date

from bot.adapters.teams.cards import card, escape, message, open_url, outside_line, text_block
from bot.domain.content import pick_locale
from bot.domain.delivery import Rendered
from bot.domain.digest import ColumnDigestPost
from bot.domain.i18n import Translator
from bot.domain.tenancy import Platform


def render_digest(t: Translator, post: ColumnDigestPost, locale: str) -> Rendered:
    locale = pick_locale(locale)
    month = format_date(post.month, "LLLL y", locale=locale)
    body = [
        text_block(escape(t.t(locale, "digest.label")), size="Small", isSubtle=True),
        text_block(
            escape(t.t(locale, "digest.title", month=month)), size="Large", weight="Bolder", style="heading"
        ),
        text_block(escape(t.t(locale, "digest.intro", count=len(post.columns)))),
    ]
    for column in post.columns:
        body.append(text_block(escape(column.title.in_locale(locale)), weight="Bolder", spacing="Medium"))
        body.append(text_block(escape(column.summary.in_locale(locale)), spacing="None"))
    body.append(outside_line(t, locale))
    content = card(body, [open_url(t.t(locale, "door.button"), post.portal_url)])
    summary = t.t(locale, "digest.summary", month=month)
    return Rendered(platform=Platform.TEAMS, payload=message(content, locale, summary), fallback_text=summary)

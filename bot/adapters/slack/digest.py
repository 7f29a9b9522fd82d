"""The monthly column digest on Slack: one section per column (title and summary), then the door."""

from __future__ import annotations

from babel.dates import format_date
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.adapters.slack.blocks import HEADER_LIMIT, _clip, _payload, door_blocks, escape, fallback, strong
from bot.domain.content import pick_locale
from bot.domain.delivery import Rendered
from bot.domain.digest import ColumnDigestPost
from bot.domain.i18n import Translator
from bot.domain.tenancy import Platform


def render_digest(t: Translator, post: ColumnDigestPost, locale: str) -> Rendered:
    locale = pick_locale(locale)
    month = format_date(post.month, "LLLL y", locale=locale)
    title = t.t(locale, "digest.title", month=month)
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=escape(t.t(locale, "digest.label")))]),
        HeaderBlock(text=_clip(title, HEADER_LIMIT)),
        SectionBlock(
            text=MarkdownTextObject(text=escape(t.t(locale, "digest.intro", count=len(post.columns))))
        ),
        *(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"{strong(column.title.in_locale(locale))}\n{escape(column.summary.in_locale(locale))}"
                )
            )
            for column in post.columns
        ),
        DividerBlock(),
        *door_blocks(t, locale, post.portal_url),
    ]
    return Rendered(
        platform=Platform.SLACK,
        payload={"blocks": _payload(blocks)},
        fallback_text=fallback(t.t(locale, "digest.summary", month=month)),
    )

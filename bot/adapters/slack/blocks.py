"""Block Kit: columns and reminders from their Markdown, the Home tab, the door reply and `/vp` answers.

Everything is built with `slack_sdk.models` so Slack's field limits are checked when a view is serialised.
Texts come from the locale files; the reader's locale decides the language (Dutch unless Slack says English).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    ImageElement,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.catalog.markdown import parse_markdown
from bot.domain.content import SocialMapEntry, pick_locale
from bot.domain.delivery import ColumnPost, ReminderPost, Rendered
from bot.domain.document import Block as DocBlock
from bot.domain.document import BulletList, Heading, Paragraph, Span, plain_text
from bot.domain.home import CounsellorCard, HomeInfo, UpcomingSession
from bot.domain.i18n import Translator
from bot.domain.tenancy import CounsellorRole, Platform

PLATFORM_NAME = "Slack"
DOOR_ACTION = "vp_door_open"  # a link button: Slack still sends an interaction, which is only acknowledged
LINK_ACTION_PREFIX = "vp_link_"
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
MESSAGE_BLOCK_LIMIT = 50
HOME_BLOCK_LIMIT = 100
FALLBACK_LIMIT = 3000


# Every text we did not write ourselves (titles, names, descriptions, places, links) goes into a Slack payload
# through one of the functions below, in blocks and in the fallback `text` alike: Slack parses both as mrkdwn,
# so an unescaped "<!channel>" in a session title would ping the whole channel.


def escape(text: str) -> str:
    """Escape the three characters mrkdwn gives meaning to."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# mrkdwn has no escape for its emphasis markers: inside bold, a "*" in a name ends the bold early and "_" starts
# italics. Within emphasised text they are replaced by look-alikes that mrkdwn leaves alone.
_EMPHASIS_MARKERS = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})


def strong(text: str) -> str:
    """`text` in bold, escaped, whatever characters it holds."""
    return f"*{escape(text).translate(_EMPHASIS_MARKERS)}*"


def _escape_url(url: str) -> str:
    return url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


def link(url: str, label: str) -> str:
    """A mrkdwn link whose address and label can neither end it early nor smuggle in a mention."""
    return f"<{_escape_url(url)}|{escape(label)}>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fallback(text: str) -> str:
    """A message's fallback `text` (notifications, screen readers): clipped, then escaped like block text."""
    return escape(_clip(text, FALLBACK_LIMIT))


def span_mrkdwn(span: Span) -> str:
    text = escape(span.text)
    if not text.strip():
        return text
    # mrkdwn markers must hug the words: keep surrounding spaces outside them.
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    core = text.strip()
    if span.italic or span.bold:
        core = core.translate(_EMPHASIS_MARKERS)
    if span.link:
        core = f"<{_escape_url(span.link)}|{core}>"
    if span.italic:
        core = f"_{core}_"
    if span.bold:
        core = f"*{core}*"
    return lead + core + trail


def spans_mrkdwn(spans: Iterable[Span]) -> str:
    return "".join(span_mrkdwn(s) for s in spans)


def document_mrkdwn(blocks: Iterable[DocBlock]) -> list[str]:
    """Each document block as one mrkdwn chunk."""
    chunks: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            chunks.append(strong(plain_text(block.spans).strip()))
        elif isinstance(block, Paragraph):
            chunks.append(spans_mrkdwn(block.spans))
        elif isinstance(block, BulletList):
            chunks.append("\n".join(f"• {spans_mrkdwn(item)}" for item in block.items))
    return chunks


def _split(text: str, limit: int) -> list[str]:
    """Cut a chunk longer than a section allows at line or word boundaries."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        parts.append(text[:cut])
        text = text[cut:].lstrip()
    parts.append(text)
    return parts


def markdown_sections(source: str) -> list[Block]:
    """Markdown of a column or reminder as as few section blocks as Slack's 3,000-character limit allows."""
    sections: list[str] = []
    current = ""
    for chunk in document_mrkdwn(parse_markdown(source)):
        for piece in _split(chunk, SECTION_LIMIT):
            joined = f"{current}\n\n{piece}" if current else piece
            if len(joined) <= SECTION_LIMIT:
                current = joined
            else:
                sections.append(current)
                current = piece
    if current:
        sections.append(current)
    return [SectionBlock(text=MarkdownTextObject(text=s)) for s in sections]


def door_blocks(t: Translator, locale: str, portal_url: str, *, with_hint: bool = True) -> list[Block]:
    """The way to a confidential conversation: the same link for everybody in the organisation."""
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(text=escape(t.t(locale, "door.explanation", platform=PLATFORM_NAME)))
        ),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text=t.t(locale, "door.button"), url=portal_url, action_id=DOOR_ACTION, style="primary"
                )
            ]
        ),
    ]
    if with_hint:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=escape(t.t(locale, "door.anonymous_hint")))])
        )
    return blocks


def _payload(blocks: list[Block], limit: int = MESSAGE_BLOCK_LIMIT) -> list[dict[str, object]]:
    if len(blocks) > limit:
        raise ValueError(f"a Slack message holds at most {limit} blocks, this one has {len(blocks)}")
    return [b.to_dict() for b in blocks]


def render_column(t: Translator, post: ColumnPost, locale: str) -> Rendered:
    """A column as a Block Kit message: title, reading time, the text, the door."""
    locale = pick_locale(locale)
    column = post.column
    title = column.title.in_locale(locale)
    label = t.t(locale, "slack.post.column_label", count=column.reading_minutes)
    blocks: list[Block] = [
        HeaderBlock(text=_clip(title, HEADER_LIMIT)),
        ContextBlock(elements=[MarkdownTextObject(text=escape(label))]),
        *markdown_sections(column.body.in_locale(locale)),
        DividerBlock(),
        *door_blocks(t, locale, post.portal_url),
    ]
    return Rendered(
        platform=Platform.SLACK,
        payload={"blocks": _payload(blocks)},
        fallback_text=fallback(f"{title}: {column.summary.in_locale(locale)}"),
    )


def render_reminder(t: Translator, post: ReminderPost, locale: str) -> Rendered:
    """A code-of-conduct reminder as a Block Kit message, with the door (without the anonymity hint)."""
    locale = pick_locale(locale)
    reminder = post.reminder
    title = reminder.title.in_locale(locale)
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=escape(t.t(locale, "slack.post.reminder_label")))]),
        SectionBlock(text=MarkdownTextObject(text=strong(title))),
        *markdown_sections(reminder.body.in_locale(locale)),
        *door_blocks(t, locale, post.portal_url, with_hint=False),
    ]
    return Rendered(
        platform=Platform.SLACK,
        payload={"blocks": _payload(blocks)},
        fallback_text=fallback(title),
    )


# -- the door reply, /vp ------------------------------------------------------------------------------------


def dm_reply(t: Translator, locale: str, portal_url: str) -> tuple[list[dict[str, object]], str]:
    """What a DM to the bot gets back: why nothing typed here is kept, and the door."""
    title = t.t(locale, "slack.dm.reply_title")
    not_stored = t.t(locale, "door.typed_text_not_stored", platform=PLATFORM_NAME)
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"{strong(title)}\n{escape(not_stored)}")),
        *door_blocks(t, locale, portal_url),
    ]
    return _payload(blocks), fallback(f"{title}. {not_stored}")


def help_reply(
    t: Translator, locale: str, portal_url: str, *, unknown: bool = False
) -> tuple[list[dict[str, object]], str]:
    lead = t.t(locale, "slack.command.unknown") if unknown else t.t(locale, "slack.command.help_title")
    body = t.t(locale, "slack.command.help")
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"{strong(lead)}\n{body}")),
        DividerBlock(),
        *door_blocks(t, locale, portal_url),
    ]
    return _payload(blocks), f"{escape(lead)} {body}"  # the help text is our own mrkdwn


def door_reply(t: Translator, locale: str, portal_url: str) -> tuple[list[dict[str, object]], str]:
    title = t.t(locale, "door.title")
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=strong(title))),
        *door_blocks(t, locale, portal_url),
    ]
    return _payload(blocks), fallback(f"{title}: {portal_url}")


def social_map_blocks(
    t: Translator, locale: str, entries: Iterable[SocialMapEntry], limit: int
) -> list[Block]:
    blocks: list[Block] = []
    for index, entry in enumerate(entries):
        if len(blocks) >= limit:
            break
        lines = [strong(entry.name.in_locale(locale)), escape(entry.description.in_locale(locale))]
        if entry.phone:
            lines.append(escape(t.t(locale, "slack.home.phone", phone=entry.phone)))
        if entry.hours:
            lines.append(escape(t.t(locale, "slack.home.hours", hours=entry.hours.in_locale(locale))))
        accessory = (
            ButtonElement(
                text=t.t(locale, "slack.home.website"),
                url=entry.url,
                action_id=f"{LINK_ACTION_PREFIX}map_{index}",
            )
            if entry.url
            else None
        )
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=_clip("\n".join(lines), SECTION_LIMIT)), accessory=accessory
            )
        )
    return blocks


def social_map_reply(
    t: Translator, locale: str, entries: Iterable[SocialMapEntry], portal_url: str
) -> tuple[list[dict[str, object]], str]:
    title = t.t(locale, "slack.command.social_map_title")
    blocks: list[Block] = [HeaderBlock(text=title)]
    door = door_blocks(t, locale, portal_url, with_hint=False)
    blocks += social_map_blocks(t, locale, entries, MESSAGE_BLOCK_LIMIT - len(blocks) - len(door) - 1)
    blocks += [DividerBlock(), *door]
    return _payload(blocks), fallback(title)


# -- the Home tab -------------------------------------------------------------------------------------------


def _slack_date(moment: datetime, token: str, fallback: str) -> str:
    """A date Slack formats in the reader's own locale and time zone."""
    return f"<!date^{int(moment.timestamp())}^{token}|{escape(fallback)}>"


def _counsellor_block(t: Translator, locale: str, card: CounsellorCard) -> Block:
    role_key = "slack.home.role_deputy" if card.role is CounsellorRole.DEPUTY else "slack.home.role_primary"
    lines = [strong(card.name), escape(t.t(locale, role_key))]
    if card.intro:
        lines.append(escape(card.intro.in_locale(locale)))
    if card.email:
        lines.append(escape(t.t(locale, "slack.home.email", email=card.email)))
    photo = (
        ImageElement(image_url=card.photo_url, alt_text=t.t(locale, "slack.home.photo_alt", name=card.name))
        if card.photo_url and card.photo_url.startswith("https://")
        else None
    )
    return SectionBlock(text=MarkdownTextObject(text=_clip("\n".join(lines), SECTION_LIMIT)), accessory=photo)


def _session_block(t: Translator, locale: str, index: int, session: UpcomingSession) -> Block:
    when = t.t(
        locale,
        "slack.home.session_when",
        date=_slack_date(session.starts_at, "{date_long_pretty}", session.starts_at.date().isoformat()),
        start=_slack_date(session.starts_at, "{time}", session.starts_at.strftime("%H:%M")),
        end=_slack_date(session.ends_at, "{time}", session.ends_at.strftime("%H:%M")),
    )
    lines = [strong(session.title.in_locale(locale)), when]
    if session.place:
        lines.append(escape(t.t(locale, "slack.home.session_place", place=session.place)))
    accessory = (
        ButtonElement(
            text=t.t(locale, "slack.home.session_online"),
            url=session.online_url,
            action_id=f"{LINK_ACTION_PREFIX}session_{index}",
        )
        if session.online_url
        else None
    )
    return SectionBlock(
        text=MarkdownTextObject(text=_clip("\n".join(lines), SECTION_LIMIT)), accessory=accessory
    )


def _heading(text: str) -> Block:
    return HeaderBlock(text=_clip(text, HEADER_LIMIT))


def home_view(t: Translator, locale: str, info: HomeInfo) -> dict[str, object]:
    """The App Home tab of an organisation, as a `views.publish` view."""
    locale = pick_locale(locale)
    blocks: list[Block] = [
        _heading(t.t(locale, "slack.home.title", organisation=info.organisation.name)),
        SectionBlock(text=MarkdownTextObject(text=escape(t.t(locale, "slack.home.intro")))),
        DividerBlock(),
        _heading(t.t(locale, "slack.home.counsellors_heading")),
    ]
    if info.counsellors:
        blocks += [_counsellor_block(t, locale, c) for c in info.counsellors[:10]]
    else:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=escape(t.t(locale, "slack.home.no_counsellor"))))
        )
    blocks += [
        DividerBlock(),
        _heading(t.t(locale, "slack.home.reach_heading")),
        *door_blocks(t, locale, info.portal_url),
        DividerBlock(),
        _heading(t.t(locale, "slack.home.sessions_heading")),
    ]
    if info.sessions:
        blocks += [_session_block(t, locale, i, s) for i, s in enumerate(info.sessions[:10])]
    else:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=escape(t.t(locale, "slack.home.no_sessions")))])
        )
    blocks += [DividerBlock(), _heading(t.t(locale, "slack.home.social_map_heading"))]
    blocks += social_map_blocks(t, locale, info.social_map, HOME_BLOCK_LIMIT - len(blocks))
    view = View(type="home", blocks=blocks[:HOME_BLOCK_LIMIT])
    return view.to_dict()


def not_linked_view(t: Translator, locale: str) -> dict[str, object]:
    """The Home tab of a workspace that no organisation claims yet: no door, because there is no portal to open."""
    view = View(
        type="home",
        blocks=[SectionBlock(text=MarkdownTextObject(text=escape(t.t(locale, "slack.home.not_linked"))))],
    )
    return view.to_dict()

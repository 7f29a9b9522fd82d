"""Adaptive Cards for Teams: columns and reminders (through the shared document model), the welcome card, the
door, the sociale kaart, sessions and help. Plain dicts in, plain dicts out: no Agents SDK here.

Cards declare schema version 1.5 (what Teams renders on desktop, web and mobile). Text goes through TextBlocks in
Teams' Markdown subset (bold, italic, links, "- " lists); everything a person sees comes from the locale files.
Dates are left to Teams (`{{DATE(...)}}` / `{{TIME(...)}}`), so each reader sees them in their own locale and
time zone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.catalog.markdown import parse_markdown
from bot.domain.content import Column, Reminder, SocialMapEntry, pick_locale
from bot.domain.delivery import ColumnPost, ReminderPost, Rendered
from bot.domain.document import Block, BulletList, Heading, Paragraph, Span
from bot.domain.home import HomeInfo, UpcomingSession
from bot.domain.i18n import Translator
from bot.domain.tenancy import CounsellorRole, Platform

CARD_VERSION = "1.5"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
PLATFORM_NAME = "Teams"

# Actions the bot's own cards submit (Action.Submit `data`); typed commands map onto the same actions.
ACTION_KEY = "vipbot"
# In the data of a feature's buttons: the card's language, so the answer to a click is in the language of the card
# it answers (not the clicker's Teams language: a channel card must not switch language after one click).
LOCALE_KEY = "lang"
HELP, SOCIAL_MAP, SESSIONS, TALK = "help", "social_map", "sessions", "talk"
ACTIONS = (HELP, SOCIAL_MAP, SESSIONS, TALK)

Card = dict[str, Any]
Element = dict[str, Any]

_MARKDOWN_SPECIAL = re.compile(r"([\\*_\[\]])")
# Teams hands TextBlock text to an HTML-aware renderer: "<Bakker>" is taken for a tag and vanishes, and "&" can
# start an entity that swallows what follows. An invisible word joiner after "<" and "&" makes neither a tag nor
# an entity in any HTML parser, and shows nothing, whether or not a client parses the text as HTML.
_HTML_START = re.compile(r"([<&])")
WORD_JOINER = "\u2060"


def escape(text: str) -> str:
    """Text shown literally inside a Markdown TextBlock (Teams' Markdown subset and its HTML-aware renderer)."""
    return _HTML_START.sub(rf"\1{WORD_JOINER}", _MARKDOWN_SPECIAL.sub(r"\\\1", text))


def spans_markdown(spans: tuple[Span, ...]) -> str:
    parts: list[str] = []
    for span in spans:
        piece = escape(span.text)
        if span.link:
            piece = f"[{piece}]({span.link})"
        if span.italic:
            piece = f"_{piece}_"
        if span.bold:
            piece = f"**{piece}**"
        parts.append(piece)
    return "".join(parts)


def text_block(text: str, **style: Any) -> Element:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def blocks_to_elements(blocks: tuple[Block, ...]) -> list[Element]:
    elements: list[Element] = []
    for block in blocks:
        if isinstance(block, Heading):
            elements.append(text_block(spans_markdown(block.spans), weight="Bolder", spacing="Medium"))
        elif isinstance(block, Paragraph):
            elements.append(text_block(spans_markdown(block.spans)))
        elif isinstance(block, BulletList):
            elements.append(text_block("\n".join(f"- {spans_markdown(item)}" for item in block.items)))
    return elements


def card(body: list[Element], actions: list[Element] | None = None) -> Card:
    built: Card = {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        built["actions"] = actions
    return built


def message(content: Card, locale: str, summary: str) -> dict[str, object]:
    """A message activity (without addressing) that carries one Adaptive Card."""
    return {
        "type": "message",
        "locale": locale,
        "summary": summary,
        "attachments": [{"contentType": ADAPTIVE_CARD, "content": content}],
    }


def open_url(title: str, url: str) -> Element:
    return {"type": "Action.OpenUrl", "title": title, "url": url, "style": "positive"}


def execute(title: str, verb: str, data: dict[str, Any]) -> Element:
    """A Universal Action button: Teams sends it to the bot as an `adaptiveCard/action` invoke, and the card the bot
    answers with is shown to the person who clicked only (it is not written into the message)."""
    return {"type": "Action.Execute", "title": title, "verb": verb, "data": {ACTION_KEY: verb, **data}}


def refresh(verb: str, data: dict[str, Any]) -> dict[str, Any]:
    """The card's `refresh`: Teams asks the bot for each reader's own view when they open the card (automatically
    in chats of up to 60 people, by the card's "refresh" menu elsewhere)."""
    return {"action": {"type": "Action.Execute", "verb": verb, "data": {ACTION_KEY: verb, **data}}}


def submit(title: str, action: str) -> Element:
    return {"type": "Action.Submit", "title": title, "data": {ACTION_KEY: action}}


def outside_line(t: Translator, locale: str) -> Element:
    """The line every post carries, as on Slack: what the person tells the counsellor happens outside Teams, where
    the employer cannot see it."""
    return text_block(escape(t.t(locale, "door.explanation", platform=PLATFORM_NAME)), isSubtle=True)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_BUILT_LIMIT = 2_000


@dataclass(frozen=True)
class CardKit:
    """Builds every card of the bot in a reader's locale.

    The menu's cards (door, help, sociale kaart, sessions, welcome) depend only on their arguments, so each is
    built once and then shared: a click costs no translating or escaping. A card built here is never changed
    afterwards. A card that shows a `HomeInfo` is kept with that HomeInfo and built again when a newer one comes
    (the home cache reloads it every few seconds)."""

    translator: Translator
    _built: dict[tuple[object, ...], tuple[object, Card]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _json: dict[int, tuple[Card, bytes]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def json_of(self, content: Card) -> bytes:
        """The card as JSON, encoded once per card: the menu's cards come back click after click as the same
        object. The card is kept with its JSON, so its id stays its own while it is here."""
        found = self._json.get(id(content))
        if found is not None and found[0] is content:
            return found[1]
        encoded = json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()
        if len(self._json) >= _BUILT_LIMIT:
            self._json.clear()
        self._json[id(content)] = (content, encoded)
        return encoded

    def _once(self, key: tuple[object, ...], build: Callable[[], Card], source: object = None) -> Card:
        found = self._built.get(key)
        if found is not None and found[0] is source:
            return found[1]
        if len(self._built) >= _BUILT_LIMIT:
            self._built.clear()
        built = build()
        self._built[key] = (source, built)
        return built

    def t(self, locale: str, key: str, /, **params: object) -> str:
        return self.translator.t(locale, key, **params)

    def summary(self, locale: str) -> str:
        """What Teams' chat list and notifications show for a card reply (instead of "sent a card")."""
        return self.t(locale, "teams.card_summary")

    def outside_line(self, locale: str) -> Element:
        return outside_line(self.translator, locale)

    # --- outreach ----------------------------------------------------------------------------------------

    def column(self, column: Column, portal_url: str, locale: str) -> Card:
        body = [
            text_block(escape(self.t(locale, "teams.column_label")), size="Small", isSubtle=True),
            text_block(
                escape(column.title.in_locale(locale)), size="Large", weight="Bolder", style="heading"
            ),
            text_block(
                escape(self.t(locale, "teams.reading_time", count=column.reading_minutes)),
                size="Small",
                isSubtle=True,
                spacing="None",
            ),
            text_block(f"_{escape(column.summary.in_locale(locale))}_"),
            *blocks_to_elements(parse_markdown(column.body.in_locale(locale))),
            self.outside_line(locale),
        ]
        return card(body, [open_url(self.t(locale, "door.button"), portal_url)])

    def reminder(self, reminder: Reminder, portal_url: str, locale: str) -> Card:
        body = [
            text_block(escape(self.t(locale, "teams.reminder_label")), size="Small", isSubtle=True),
            text_block(
                escape(reminder.title.in_locale(locale)), size="Large", weight="Bolder", style="heading"
            ),
            *blocks_to_elements(parse_markdown(reminder.body.in_locale(locale))),
            self.outside_line(locale),
        ]
        return card(body, [open_url(self.t(locale, "door.button"), portal_url)])

    # --- the front door ----------------------------------------------------------------------------------

    def _door_elements(self, locale: str, typed_text: bool) -> list[Element]:
        elements = []
        if typed_text:
            elements.append(
                text_block(
                    escape(self.t(locale, "door.typed_text_not_stored", platform=PLATFORM_NAME)),
                    weight="Bolder",
                )
            )
        elements += [
            text_block(
                escape(self.t(locale, "door.title")), size="Medium", weight="Bolder", spacing="Medium"
            ),
            text_block(escape(self.t(locale, "door.explanation", platform=PLATFORM_NAME))),
            text_block(escape(self.t(locale, "door.anonymous_hint")), isSubtle=True),
        ]
        return elements

    def _menu(self, locale: str, portal_url: str, *, skip: str | None = None) -> list[Element]:
        actions = [open_url(self.t(locale, "door.button"), portal_url)]
        labels = {
            SOCIAL_MAP: "teams.button_social_map",
            SESSIONS: "teams.button_sessions",
            HELP: "teams.button_help",
        }
        actions += [
            submit(self.t(locale, label), action) for action, label in labels.items() if action != skip
        ]
        return actions

    def door(self, portal_url: str, locale: str, *, typed_text: bool = False) -> Card:
        return self._once(
            ("door", portal_url, locale, typed_text),
            lambda: card(self._door_elements(locale, typed_text), self._menu(locale, portal_url)),
        )

    def welcome(self, home: HomeInfo, locale: str) -> Card:
        return self._once(
            ("welcome", home.organisation.id, locale), lambda: self._welcome(home, locale), home
        )

    def _welcome(self, home: HomeInfo, locale: str) -> Card:
        org = home.organisation
        body: list[Element] = [
            text_block(
                escape(self.t(locale, "teams.welcome_title")), size="Large", weight="Bolder", style="heading"
            ),
            text_block(escape(self.t(locale, "teams.welcome_intro", organisation=org.name))),
            text_block(
                escape(self.t(locale, "teams.counsellors_heading")), weight="Bolder", spacing="Medium"
            ),
        ]
        if not home.counsellors:
            body.append(text_block(escape(self.t(locale, "teams.no_counsellors")), isSubtle=True))
        for counsellor in home.counsellors:
            role = "teams.role_primary" if counsellor.role is CounsellorRole.PRIMARY else "teams.role_deputy"
            person: list[Element] = [
                text_block(f"**{escape(counsellor.name)}**", spacing="None"),
                text_block(escape(self.t(locale, role)), isSubtle=True, spacing="None", size="Small"),
            ]
            if counsellor.intro is not None:
                person.append(text_block(escape(counsellor.intro.in_locale(locale)), spacing="Small"))
            columns: list[Element] = []
            if counsellor.photo_url and counsellor.photo_url.startswith("https://"):
                image = {"type": "Image", "url": counsellor.photo_url, "style": "Person", "size": "Small"}
                image["altText"] = counsellor.name
                columns.append({"type": "Column", "width": "auto", "items": [image]})
            columns.append({"type": "Column", "width": "stretch", "items": person})
            body.append({"type": "ColumnSet", "columns": columns})
        body += self._door_elements(locale, typed_text=False)
        body += self._sessions_elements(home.sessions, locale)
        return card(body, self._menu(locale, home.portal_url))

    def social_map(self, home: HomeInfo, locale: str) -> Card:
        return self._once(("map", home.organisation.id, locale), lambda: self._social_map(home, locale), home)

    def _social_map(self, home: HomeInfo, locale: str) -> Card:
        body: list[Element] = [
            text_block(escape(self.t(locale, "teams.social_map_heading")), size="Large", weight="Bolder"),
            text_block(escape(self.t(locale, "teams.social_map_intro"))),
        ]
        body += [_social_map_entry(entry, locale) for entry in home.social_map]
        return card(body, self._menu(locale, home.portal_url, skip=SOCIAL_MAP))

    def sessions(self, home: HomeInfo, locale: str) -> Card:
        return self._once(
            ("sessions", home.organisation.id, locale),
            lambda: card(
                self._sessions_elements(home.sessions, locale),
                self._menu(locale, home.portal_url, skip=SESSIONS),
            ),
            home,
        )

    def _sessions_elements(self, sessions: tuple[UpcomingSession, ...], locale: str) -> list[Element]:
        elements = [
            text_block(escape(self.t(locale, "teams.sessions_heading")), weight="Bolder", spacing="Medium")
        ]
        if not sessions:
            elements.append(text_block(escape(self.t(locale, "teams.no_sessions")), isSubtle=True))
        for session in sessions:
            when = self.t(
                locale,
                "teams.session_when",
                date=f"{{{{DATE({iso_utc(session.starts_at)}, COMPACT)}}}}",
                start=f"{{{{TIME({iso_utc(session.starts_at)})}}}}",
                end=f"{{{{TIME({iso_utc(session.ends_at)})}}}}",
            )
            lines = [f"**{escape(session.title.in_locale(locale))}**", when]
            if session.place:
                lines.append(escape(self.t(locale, "teams.session_place", place=session.place)))
            if session.online_url and session.online_url.startswith("https://"):
                lines.append(f"[{escape(self.t(locale, 'teams.session_online'))}]({session.online_url})")
            elements.append(text_block("\n\n".join(lines), spacing="Small"))
        return elements

    def help(self, portal_url: str, locale: str) -> Card:
        return self._once(("help", portal_url, locale), lambda: self._help(portal_url, locale))

    def _help(self, portal_url: str, locale: str) -> Card:
        lines = [
            self.t(
                locale,
                "teams.help_line",
                command=escape(self.t(locale, f"teams.command_{action}")),
                description=escape(self.t(locale, f"teams.command_{action}_description")),
            )
            for action in ACTIONS
        ]
        body = [
            text_block(escape(self.t(locale, "teams.help_title")), size="Large", weight="Bolder"),
            text_block(escape(self.t(locale, "teams.help_intro"))),
            text_block("\n".join(f"- {line}" for line in lines)),
        ]
        return card(body, self._menu(locale, portal_url, skip=HELP))

    def channel_installed(self, portal_url: str, locale: str) -> Card:
        body = [text_block(escape(self.t(locale, "teams.channel_installed"))), self.outside_line(locale)]
        return card(body, [open_url(self.t(locale, "door.button"), portal_url)])

    def not_connected(self, locale: str) -> Card:
        return card([text_block(escape(self.t(locale, "teams.not_connected")))])

    def command_words(self) -> dict[str, str]:
        """Every typed command word (all locales, lower case) → its action."""
        words: dict[str, str] = {}
        for locale in self.translator.tables:
            for action in ACTIONS:
                words[self.t(locale, f"teams.command_{action}").lower()] = action
        return words


def _social_map_entry(entry: SocialMapEntry, locale: str) -> Element:
    lines = [f"**{escape(entry.name.in_locale(locale))}**", escape(entry.description.in_locale(locale))]
    contact = []
    if entry.phone:
        contact.append(escape(entry.phone))
    if entry.url and entry.url.startswith(("https://", "mailto:")):
        contact.append(f"[{escape(entry.url.removeprefix('https://').removeprefix('mailto:'))}]({entry.url})")
    if entry.hours:
        contact.append(escape(entry.hours.in_locale(locale)))
    if contact:
        lines.append(" · ".join(contact))
    return text_block("\n\n".join(lines), spacing="Medium")


def rendered(content: Card, locale: str, fallback: str) -> Rendered:
    """A card as the message the outbox sends: `fallback` is also its `summary` in Teams' chat list."""
    return Rendered(
        platform=Platform.TEAMS, payload=message(content, locale, fallback), fallback_text=fallback
    )


def render_column(kit: CardKit, post: ColumnPost, locale: str) -> Rendered:
    locale = pick_locale(locale)
    fallback = f"{post.column.title.in_locale(locale)}: {post.column.summary.in_locale(locale)}"
    return rendered(kit.column(post.column, post.portal_url, locale), locale, fallback)


def render_reminder(kit: CardKit, post: ReminderPost, locale: str) -> Rendered:
    locale = pick_locale(locale)
    fallback = post.reminder.title.in_locale(locale)
    return rendered(kit.reminder(post.reminder, post.portal_url, locale), locale, fallback)

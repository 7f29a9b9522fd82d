"""Adaptive Card rendering: the same content as Slack, in the reader's locale, with the organisation's door."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.adapters.teams.cards import ADAPTIVE_CARD, CardKit, blocks_to_elements, escape
from bot.adapters.teams.posts import teams_renderers
from bot.catalog import ContentLibrary
from bot.domain.delivery import ColumnPost, Post, ReminderPost, Rendered
from bot.domain.document import BulletList, Heading, Paragraph, Span
from bot.domain.tenancy import Platform
from tests.adapters.teams.support import card_text, open_urls
from tests.doubles.card_check import card_problems, entries_of_activity

PORTAL = "https://vp.example.nl/portal/zorg"


def test_columns_render_in_the_readers_locale(content: ContentLibrary) -> None:
    column = content.catalog.columns[0]
    renderer = teams_renderers(content.translator)
    for locale, title, label in (
        ("nl-NL", column.title.nl, "Column van"),
        ("en-GB", column.title.en, "Column by"),
    ):
        rendered = renderer.render(ColumnPost(column, PORTAL), locale)
        assert rendered.platform is Platform.TEAMS
        (attachment,) = rendered.payload["attachments"]  # type: ignore[misc]
        assert attachment["contentType"] == ADAPTIVE_CARD
        card = attachment["content"]
        assert card["version"] == "1.5"
        assert card["type"] == "AdaptiveCard"
        text = card_text(card)
        assert escape(title) in text
        assert label in text
        assert open_urls(card) == [PORTAL]
        assert rendered.fallback_text.startswith(title)
        assert rendered.payload["locale"] == locale[:2]


def test_every_bundled_column_and_reminder_renders(content: ContentLibrary) -> None:
    renderer = teams_renderers(content.translator)
    for column in content.catalog.columns:
        assert len(renderer.render(ColumnPost(column, PORTAL), "nl").payload["attachments"]) == 1  # type: ignore[arg-type]
    for reminder in content.catalog.reminders:
        card = renderer.render(ReminderPost(reminder, PORTAL), "en").payload["attachments"][0]["content"]  # type: ignore[index]
        assert open_urls(card) == [PORTAL]


def test_every_card_fits_in_a_teams_message(content: ContentLibrary) -> None:
    """Teams refuses messages over about 28 KB."""
    import json

    renderer = teams_renderers(content.translator)
    posts: list[Post] = [ColumnPost(c, PORTAL) for c in content.catalog.columns]
    posts += [ReminderPost(r, PORTAL) for r in content.catalog.reminders]
    sizes = [
        len(json.dumps(renderer.render(post, locale).payload).encode())
        for post in posts
        for locale in ("nl", "en")
    ]
    assert max(sizes) < 28 * 1024


def test_document_model_to_teams_markdown() -> None:
    elements = blocks_to_elements(
        (
            Heading((Span("Wat kun je doen?"),)),
            Paragraph(
                (
                    Span("Zeg "),
                    Span("iets", bold=True),
                    Span(" of "),
                    Span("niets", italic=True),
                    Span(" — lees "),
                    Span("meer", link="https://example.nl/a_b"),
                    Span(" *niet* vet"),
                )
            ),
            BulletList(((Span("een"),), (Span("twee", bold=True),))),
        )
    )
    assert elements[0]["weight"] == "Bolder"
    assert (
        elements[1]["text"] == "Zeg **iets** of _niets_ — lees [meer](https://example.nl/a_b) \\*niet\\* vet"
    )
    assert elements[2]["text"] == "- een\n- **twee**"
    assert all(e["wrap"] for e in elements)


def test_unknown_posts_are_refused_and_others_can_be_added(content: ContentLibrary) -> None:
    @dataclass(frozen=True)
    class DigestPost(Post):
        kind: str = "digest"

    renderers = teams_renderers(content.translator)
    with pytest.raises(TypeError):
        renderers.render(DigestPost(), "nl")

    def render_digest(post: DigestPost, locale: str) -> Rendered:
        return Rendered(Platform.TEAMS, {"type": "message", "text": locale}, "digest")

    renderers.register(DigestPost, render_digest)
    assert renderers.render(DigestPost(), "en-US").payload["text"] == "en-US"


def test_text_is_escaped_for_what_teams_renders() -> None:
    """Teams' renderer takes "<Bakker>" for an HTML tag (it vanished) and "&" for the start of an entity (a title
    was cut there); Markdown's "*" and "_" would format. An invisible word joiner after "<" and "&" keeps both
    literal in any HTML parser; Markdown characters are backslash-escaped."""
    shown = escape("Jan <Bakker> & *Zn*_ … & <respect>")
    assert shown == "Jan <\u2060Bakker> &\u2060 \\*Zn\\*\\_ … &\u2060 <\u2060respect>"
    assert shown.replace("\u2060", "").replace("\\", "") == "Jan <Bakker> & *Zn*_ … & <respect>"
    assert "<B" not in shown
    assert "&amp;" not in shown
    assert "& " not in shown


def test_the_card_check_flags_what_teams_would_not_render() -> None:
    good = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "x"}]}
    newer = {**good, "version": "1.6"}
    unknown = {**good, "body": [{"type": "Carousel"}]}
    entries = [
        {"where": "good", "card": good, "summary": "s", "message": True},
        {"where": "newer", "card": newer, "summary": "s", "message": True},
        {"where": "unknown", "card": unknown, "summary": "s", "message": True},
        {"where": "no summary", "card": good, "summary": None, "message": True},
        {"where": "invoke answer", "card": good, "summary": None, "message": False},
    ]
    problems = card_problems(entries)
    assert [p.split(":")[0] for p in problems] == ["newer", "unknown", "no summary"]


def test_every_card_of_the_kit_passes_microsofts_adaptivecards(content: ContentLibrary) -> None:
    kit = CardKit(content.translator)
    renderer = teams_renderers(content.translator)
    entries: list[dict[str, object]] = []
    for locale in ("nl", "en"):
        posts: list[Post] = [ColumnPost(c, PORTAL) for c in content.catalog.columns]
        posts += [ReminderPost(r, PORTAL) for r in content.catalog.reminders]
        for number, post in enumerate(posts):
            entries += entries_of_activity(f"post {number} {locale}", renderer.render(post, locale).payload)
        for name, built in (
            ("door", kit.door(PORTAL, locale, typed_text=True)),
            ("help", kit.help(PORTAL, locale)),
            ("not connected", kit.not_connected(locale)),
            ("channel installed", kit.channel_installed(PORTAL, locale)),
        ):
            entry = {
                "where": f"{name} {locale}",
                "card": built,
                "summary": kit.summary(locale),
                "message": True,
            }
            entries.append(entry)
    assert card_problems(entries) == []


def test_session_cards_carry_the_outside_teams_line(content: ContentLibrary) -> None:
    """Like columns and reminders: what you tell the counsellor happens outside Teams, where the employer cannot
    see it — on the announcement, the day-before reminder and the clicker's own view alike."""
    from datetime import UTC, datetime
    from uuid import uuid4

    from bot.adapters.teams.render_sessions import session_card
    from bot.domain.outreach import Audience
    from bot.domain.team_sessions import (
        SessionAnnouncementPost,
        SessionReminderPost,
        SignupState,
        TeamSession,
    )

    session = TeamSession(
        uuid4(), uuid4(), "Koffie & <respect>", "", datetime(2026, 3, 3, 9, tzinfo=UTC),
        datetime(2026, 3, 3, 10, tzinfo=UTC), "Kantine", None, Audience(members=True), None,
    )  # fmt: skip
    renderers = teams_renderers(content.translator)
    entries: list[dict[str, object]] = []
    for locale in ("nl", "en"):
        outside = content.translator.t(locale, "door.explanation", platform="Teams")
        posts = [
            SessionAnnouncementPost(session, 2, "https://vp.example.nl/s.ics", "Europe/Amsterdam"),
            SessionReminderPost(session, 2, "https://vp.example.nl/s.ics", "Europe/Amsterdam"),
        ]
        for post in posts:
            payload = renderers.render(post, locale).payload
            (attachment,) = payload["attachments"]  # type: ignore[misc]
            assert outside in card_text(attachment["content"]), (type(post).__name__, locale)
            entries += entries_of_activity(f"{type(post).__name__} {locale}", payload)
        own = session_card(
            content.translator, session, 3, "https://vp.example.nl/s.ics", locale, reminder=False,
            own=SignupState(count=3, signed_up=True),
        )  # fmt: skip
        assert outside in card_text(own)
    assert card_problems(entries) == []


async def test_cards_answered_to_invokes_are_checked_like_sent_ones() -> None:
    """The middleware the test helpers put on the bot's application gathers every card an invoke is answered with
    (an Action.Execute, a card's refresh) and fails the test when Teams would not render one."""
    import aiohttp
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from tests.doubles.card_check import InvokeAnswers

    good = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "x"}]}
    answers_by_verb = {
        "good": {"statusCode": 200, "type": ADAPTIVE_CARD, "value": good},
        "newer": {"statusCode": 200, "type": ADAPTIVE_CARD, "value": {**good, "version": "1.6"}},
        "notice": {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": "ok"},
    }

    async def bot(request: web.Request) -> web.Response:
        verb = (await request.json())["value"]["action"]["verb"]
        return web.json_response(answers_by_verb[verb])

    answers = InvokeAnswers()
    app = web.Application(middlewares=[answers.middleware])
    app.router.add_post("/api/messages", bot)
    async with TestServer(app, host="127.0.0.1", port=0) as server, aiohttp.ClientSession() as http:
        for verb in answers_by_verb:
            body = {"type": "invoke", "value": {"action": {"verb": verb}}}
            async with http.post(str(server.make_url("/api/messages")), json=body) as response:
                assert response.status == 200
    assert [e["card"]["version"] for e in answers.entries] == ["1.5", "1.6"]
    with pytest.raises(AssertionError, match="invoke answer #1"):
        answers.check()

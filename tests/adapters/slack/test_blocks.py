"""Block Kit rendering: Markdown to mrkdwn, columns and reminders per locale, the Home view, Slack's limits."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.adapters.slack.blocks import (
    HOME_BLOCK_LIMIT,
    dm_reply,
    escape,
    home_view,
    markdown_sections,
    span_mrkdwn,
)
from bot.adapters.slack.posts import slack_renderers
from bot.catalog import ContentLibrary
from bot.domain.content import Column, Text
from bot.domain.delivery import ColumnPost, Post, ReminderPost
from bot.domain.document import Span
from bot.domain.home import CounsellorCard, HomeInfo, UpcomingSession
from bot.domain.tenancy import CounsellorRole, Organisation

PORTAL = "https://vp.example.nl/portal/acme"


def test_mrkdwn_escapes_and_marks_up() -> None:
    assert escape("a < b & c > d") == "a &lt; b &amp; c &gt; d"
    assert span_mrkdwn(Span("vet", bold=True)) == "*vet*"
    assert span_mrkdwn(Span(" schuin ", italic=True)) == " _schuin_ "
    assert (
        span_mrkdwn(Span("hier", link="https://x.nl/a?b=1&c=<2>|3"))
        == "<https://x.nl/a?b=1&amp;c=%3C2%3E%7C3|hier>"
    )
    sections = markdown_sections(
        "## Kop\n\nEen **vette** en *schuine* zin met <tags> & meer.\n\n- een\n- twee\n"
    )
    (section,) = [s.to_dict() for s in sections]
    assert section["text"]["text"] == (
        "*Kop*\n\nEen *vette* en _schuine_ zin met &lt;tags&gt; &amp; meer.\n\n• een\n• twee"
    )


def test_long_bodies_are_split_within_the_section_limit() -> None:
    body = "\n\n".join(f"Alinea {i} " + "woord " * 200 for i in range(12))
    sections = [s.to_dict() for s in markdown_sections(body)]
    assert len(sections) > 1
    assert all(len(s["text"]["text"]) <= 3000 for s in sections)
    joined = " ".join(s["text"]["text"] for s in sections)
    assert all(f"Alinea {i} " in joined for i in range(12))


@pytest.mark.parametrize("locale", ["nl", "en-GB"])
def test_every_bundled_column_and_reminder_renders(content: ContentLibrary, locale: str) -> None:
    renderer = slack_renderers(content.translator)
    catalog = content.catalog
    posts: list[Post] = [ColumnPost(c, PORTAL) for c in catalog.columns]
    posts += [ReminderPost(r, PORTAL) for r in catalog.reminders]
    for post in posts:
        rendered = renderer.render(post, locale)
        blocks = rendered.payload["blocks"]
        assert isinstance(blocks, list)
        assert 0 < len(blocks) <= 50
        door = [e for b in blocks for e in b.get("elements", []) if e.get("url")]
        assert [e["url"] for e in door] == [PORTAL]
        assert rendered.fallback_text


def test_column_in_the_readers_locale(content: ContentLibrary) -> None:
    column = content.catalog.columns[0]
    renderer = slack_renderers(content.translator)
    dutch = renderer.render(ColumnPost(column, PORTAL), "nl")
    english = renderer.render(ColumnPost(column, PORTAL), "en-US")
    assert dutch.payload["blocks"][0]["text"]["text"] == column.title.nl  # type: ignore[index]
    assert english.payload["blocks"][0]["text"]["text"] == column.title.en  # type: ignore[index]
    assert "minuten lezen" in json.dumps(dutch.payload)
    assert "min read" in json.dumps(english.payload)
    assert "Start een vertrouwelijk gesprek" in json.dumps(dutch.payload, ensure_ascii=False)
    assert column.title.nl in dutch.fallback_text


def test_a_column_with_markup_in_its_text_cannot_break_out(content: ContentLibrary) -> None:
    column = Column(
        id="x",
        theme="t",
        reading_minutes=2,
        title=Text("<!channel> titel", "<!channel> title"),
        summary=Text("s", "s"),
        body=Text("Hallo <!channel> en <@U123> & <!subteam^S1|@hr>", "x"),
    )
    rendered = slack_renderers(content.translator).render(ColumnPost(column, PORTAL), "nl")
    blocks = rendered.payload["blocks"]
    assert isinstance(blocks, list)
    mrkdwn = [t["text"] for t in _texts(blocks) if t["type"] == "mrkdwn"]
    assert not any("<!" in t or "<@" in t for t in mrkdwn)
    assert any("&lt;!channel&gt;" in t and "&lt;@U123&gt;" in t for t in mrkdwn)
    assert blocks[0]["text"]["type"] == "plain_text"  # a header is plain text, never parsed for mentions


def _texts(node: object) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    if isinstance(node, dict):
        if node.get("type") in {"mrkdwn", "plain_text"} and "text" in node:
            found.append(node)
        for value in node.values():
            found += _texts(value)
    elif isinstance(node, list):
        for value in node:
            found += _texts(value)
    return found


def test_unknown_posts_are_refused(content: ContentLibrary) -> None:
    with pytest.raises(TypeError):
        slack_renderers(content.translator).render(Post(), "nl")


def _info(content: ContentLibrary, sessions: int = 2) -> HomeInfo:
    organisation = Organisation(uuid.uuid4(), "acme", "Acme & Zonen", "Europe/Amsterdam", "nl", 90)
    start = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    return HomeInfo(
        organisation=organisation,
        counsellors=(
            CounsellorCard(
                "Anna de Vries",
                CounsellorRole.PRIMARY,
                Text("Ik luister.", "I listen."),
                "https://example.nl/anna.jpg",
                "anna@vp.example.nl",
            ),
            CounsellorCard("Bas Jansen", CounsellorRole.DEPUTY, None, None, None),
        ),
        social_map=content.catalog.social_map,
        sessions=tuple(
            UpcomingSession(
                uuid.uuid4(),
                Text(f"Intervisie {i}", f"Peer consultation {i}"),
                start,
                start.replace(hour=10),
                "Zaal 2",
                "https://meet.example.nl/x" if i == 0 else None,
                3,
            )
            for i in range(sessions)
        ),
        portal_url=PORTAL,
    )


def test_home_view_shows_counsellors_sessions_social_map_and_door(content: ContentLibrary) -> None:
    view = home_view(content.translator, "nl", _info(content))
    dumped = json.dumps(view, ensure_ascii=False)
    assert view["type"] == "home"
    assert len(view["blocks"]) <= HOME_BLOCK_LIMIT  # type: ignore[arg-type]
    assert "De vertrouwenspersoon van Acme & Zonen" in dumped  # a header is plain text: no escaping
    assert "*Anna de Vries*" in dumped
    assert "Plaatsvervangend vertrouwenspersoon" in dumped
    assert '"image_url": "https://example.nl/anna.jpg"' in dumped
    assert "Intervisie 0" in dumped
    assert "<!date^1773133200^{date_long_pretty}" in dumped
    assert "https://meet.example.nl/x" in dumped
    assert content.catalog.social_map[0].name.nl in dumped
    assert PORTAL in dumped
    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]  # type: ignore[attr-defined]
    assert headers == [
        "De vertrouwenspersoon van Acme & Zonen",
        "Je vertrouwenspersoon",
        "Zo bereik je de vertrouwenspersoon",
        "Komende teamsessies",
        "Sociale kaart: waar kun je nog meer terecht?",
    ]
    english = json.dumps(home_view(content.translator, "en-GB", _info(content)))
    assert "Peer consultation 0" in english
    assert "Deputy confidential counsellor" in english


def test_home_view_without_sessions_or_counsellors_and_within_100_blocks(content: ContentLibrary) -> None:
    bare = replace(_info(content, sessions=0), counsellors=())
    dumped = json.dumps(home_view(content.translator, "nl", bare), ensure_ascii=False)
    assert "geen teamsessies gepland" in dumped
    assert "nog geen vertrouwenspersoon" in dumped
    crowded = replace(_info(content, sessions=10), social_map=content.catalog.social_map * 10)
    assert len(home_view(content.translator, "nl", crowded)["blocks"]) <= HOME_BLOCK_LIMIT  # type: ignore[arg-type]


def test_dm_reply_explains_and_opens_the_door(content: ContentLibrary) -> None:
    blocks, fallback = dm_reply(content.translator, "nl", PORTAL)
    dumped = json.dumps(blocks, ensure_ascii=False)
    assert "Slack is van je werkgever" in dumped
    assert PORTAL in dumped
    assert "melding" not in dumped.lower()
    assert "klacht" not in dumped.lower()
    assert "Dit gesprek is niet vertrouwelijk" in fallback


def test_only_pure_link_clicks_take_the_fast_path() -> None:
    import json as _json
    from urllib.parse import urlencode

    from bot.adapters.slack.service import link_clicks_only

    def body(payload: object) -> bytes:
        return urlencode({"payload": _json.dumps(payload)}).encode()

    form = "application/x-www-form-urlencoded"
    door = {"action_id": "vp_door_open", "type": "button"}
    signup = {"action_id": "vip_session_signup", "type": "button"}
    assert link_clicks_only(body({"type": "block_actions", "actions": [door]}), form)
    assert link_clicks_only(
        body({"type": "block_actions", "actions": [{"action_id": "vp_link_map_2"}]}), form
    )
    assert not link_clicks_only(body({"type": "block_actions", "actions": [door, signup]}), form)
    assert not link_clicks_only(body({"type": "block_actions", "actions": []}), form)
    assert not link_clicks_only(body({"type": "view_submission", "actions": [door]}), form)
    assert not link_clicks_only(body({"type": "block_actions", "actions": [door]}), "application/json")
    assert not link_clicks_only(b"payload=%7Bnot-json", form)
    assert not link_clicks_only(b"command=%2Fvp&text=", form)

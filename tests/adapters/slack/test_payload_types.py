"""Hostile names and titles render as text in every Slack payload the bot sends, and every payload it sent
(to the Web API simulator) type-checks against Slack's own TypeScript types (npm @slack/types, `tsc --strict`).

Covered: a column, a reminder, a session announcement and its reminder, the count update after a sign-up, the
Home tab (counsellors, sessions, sociale kaart), and the door, help and sociale-kaart replies. Each text field —
in the blocks and in the fallback `text` — must show a hostile string as text: no mention, no link, no broken
bold. The type check proves the Block Kit is what Slack accepts; a deliberately wrong payload proves the check
can fail.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import blocks
from bot.adapters.slack.gateway import SlackClients, SlackGateway, make_client
from bot.adapters.slack.oauth import StaticToken
from bot.adapters.slack.posts import register_posts
from bot.adapters.slack.sessions import _confirmation, _ephemeral, _update_count
from bot.catalog import ContentLibrary
from bot.domain.content import Column, Reminder, SocialMapEntry, Text
from bot.domain.delivery import ColumnPost, ReminderPost, RendererRegistry, Target, TargetKind
from bot.domain.home import CounsellorCard, HomeInfo, UpcomingSession
from bot.domain.outreach import Audience
from bot.domain.team_sessions import SessionAnnouncementPost, SessionReminderPost, SignupState, TeamSession
from bot.domain.tenancy import CounsellorRole, Organisation, Platform
from bot.security.secret import Secret
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator
from tests.support.locks import exclusive
from tests.support.node_checker import node_checker

ROOT = Path(__file__).resolve().parents[3]
TYPES = ROOT / "tests" / "slack_types"
HOSTILE = "<!channel> & <respect> *Jan* _de_ ~Vries~ `x` <https://evil.example|click> <@U0BOSS>"
HOSTILE_URL = "https://meet.example/a?b=1&c=<2>|x"
PORTAL = "https://portal.example/acme?x=1&y=<2>"


def tsc() -> Path:
    """tsc of tests/slack_types, installed (pinned by its lockfile) by the script `make test` runs first; one
    worker at a time installs it when it is missing."""
    with exclusive(TYPES):
        subprocess.run([str(ROOT / "scripts" / "ensure-slack-types")], check=True, capture_output=True)
    return TYPES / "node_modules" / ".bin" / "tsc"


def type_check(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "payloads.ts").write_text(source, encoding="utf-8")
    config = {
        "compilerOptions": {
            "strict": True,
            "noEmit": True,
            "target": "ES2022",
            "module": "commonjs",
            "moduleResolution": "node",
            "skipLibCheck": True,
            "types": [],
            "typeRoots": [str(TYPES / "node_modules" / "@types")],
            "baseUrl": str(TYPES),
            "paths": {"@slack/types": ["node_modules/@slack/types"]},
        },
        "files": ["payloads.ts"],
    }
    (tmp_path / "tsconfig.json").write_text(json.dumps(config), encoding="utf-8")
    # `tsc -p tsconfig.json` with the same compiler, in one Node process per test process that keeps the parsed
    # standard library and Slack's types between checks (tests/slack_types/check.js): a fresh tsc spent more than
    # a second of CPU on them each time. Its answer is tsc's: exit status, and the diagnostics on stdout.
    tsc()
    answer = node_checker(TYPES / "check.js").ask({"project": str(tmp_path / "tsconfig.json")})
    return subprocess.CompletedProcess(["tsc", "-p", "tsconfig.json"], answer["status"], answer["output"], "")


PRELUDE = """import type { HomeView, KnownBlock, MessageMetadata } from "@slack/types";
interface PostMessage { channel: string; text: string; blocks: KnownBlock[]; metadata?: MessageMetadata;
  unfurl_links?: boolean; unfurl_media?: boolean; }
interface UpdateMessage { channel: string; ts: string; text: string; blocks: KnownBlock[]; }
interface Ephemeral { channel: string; user: string; text: string; blocks: KnownBlock[]; }
interface PublishView { user_id: string; view: HomeView; }
"""
TYPE_OF = {
    "chat.postMessage": "PostMessage",
    "chat.update": "UpdateMessage",
    "chat.postEphemeral": "Ephemeral",
    "views.publish": "PublishView",
}


def typed_source(calls: list[tuple[str, dict[str, Any]]]) -> str:
    lines = [PRELUDE]
    for index, (method, params) in enumerate(calls):
        lines.append(f"export const payload{index}: {TYPE_OF[method]} = {json.dumps(params, indent=1)};")
    return "\n".join(lines)


def text_fields(value: Any, key: str = "") -> Iterator[str]:
    """Every string of a payload that Slack parses as mrkdwn: mrkdwn text objects and the fallback `text`.
    (plain_text objects are shown exactly as written: nothing in them can mention or link.)"""
    if isinstance(value, dict):
        if value.get("type") == "plain_text":
            return
        for k, v in value.items():
            yield from text_fields(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from text_fields(item, key)
    elif isinstance(value, str) and key == "text":
        yield value


# Our own mrkdwn constructs: Slack's date markup, and links whose address and label are escaped.
OWN_MARKUP = re.compile(r"<!date\^\d+\^\{\w+\}\|[^<>]*>|<https?://[^<>|\s]+\|[^<>]*>")


def assert_shown_as_text(params: dict[str, Any]) -> None:
    for text in text_fields(params):
        rest = OWN_MARKUP.sub("", text)
        assert not set("<>") & set(rest), text  # no mention, no link, no channel ping
        assert not re.search(r"&(?!amp;|lt;|gt;)", rest), text  # every & escaped
        assert "<!channel>" not in text
        assert "<@U0BOSS>" not in text
        assert "<https://evil.example|click>" not in text  # no link hiding its address behind a label
        # Bold stays bold around a hostile name: inside *…* no other * ends it early.
        for bold in re.findall(r"\*([^*\n]+)\*", text):
            assert "*" not in bold


def hostile_session(now: datetime) -> TeamSession:
    return TeamSession(
        id=uuid.uuid4(),
        organisation_id=uuid.uuid4(),
        title=HOSTILE[:150],
        description=HOSTILE,
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=1),
        place=HOSTILE[:200],
        online_url=HOSTILE_URL,
        audience=Audience(members=True),
        locale=None,
    )


async def send_everything(slack_api: SlackApiSimulator, content: ContentLibrary) -> None:
    t = content.translator
    slack_api.add_user("U0READER")
    slack_api.add_channel("C0ALL", "algemeen")
    gateway = SlackGateway(SlackClients(slack_api.api_url, StaticToken(Secret(DEFAULT_TOKEN))))
    renderer = RendererRegistry(Platform.SLACK)
    register_posts(renderer, t)
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    session = hostile_session(now)
    hostile = Text(HOSTILE, HOSTILE)
    column = Column("c", "theme", 3, hostile, hostile, Text(f"# {HOSTILE}\n\n{HOSTILE}", f"**{HOSTILE}**"))
    posts = [
        ColumnPost(column=column, portal_url=PORTAL),
        ReminderPost(reminder=Reminder("r", "topic", hostile, hostile), portal_url=PORTAL),
        SessionAnnouncementPost(session=session, signups=0, ics_url=PORTAL, timezone="Europe/Amsterdam"),
        SessionReminderPost(session=session, signups=3, ics_url=PORTAL, timezone="Europe/Amsterdam"),
    ]
    targets = [
        Target(Platform.SLACK, DEFAULT_TEAM, TargetKind.PERSON, "U0READER"),
        Target(Platform.SLACK, DEFAULT_TEAM, TargetKind.CHANNEL, "C0ALL"),
    ]
    sent = None
    for locale in ("nl", "en"):
        for post in posts:
            for target in targets:
                sent = await gateway.send(target, renderer.render(post, locale))
    client: AsyncWebClient = make_client(slack_api.api_url, Secret(DEFAULT_TOKEN))
    assert sent is not None
    channel, ts = sent.message_id.split("/")
    await _update_count(
        client,
        t,
        session,
        SignupState(count=1, signed_up=True),
        channel,
        ts,
        "en",
        True,
        "https://bot.example",
    )
    for state in (SignupState(count=1, signed_up=True), SignupState(count=0, signed_up=False)):
        shown = _confirmation(t, session, state, "nl", False, channel, ts)
        await _ephemeral(client, {"container": {"channel_id": "C0ALL"}}, "U0READER", shown)
    organisation = Organisation(uuid.uuid4(), "acme", HOSTILE, "Europe/Amsterdam", "nl", 90)
    entry = SocialMapEntry("e", "help", hostile, hostile, phone=HOSTILE[:30], url=HOSTILE_URL, hours=hostile)
    info = HomeInfo(
        organisation=organisation,
        counsellors=(CounsellorCard(HOSTILE, CounsellorRole.PRIMARY, hostile, None, "a&b<c>@example.org"),),
        social_map=(entry,),
        sessions=(
            UpcomingSession(session.id, hostile, session.starts_at, session.ends_at, HOSTILE, HOSTILE_URL, 2),
        ),
        portal_url=PORTAL,
    )
    for locale in ("nl", "en"):
        await client.views_publish(user_id="U0READER", view=blocks.home_view(t, locale, info))
        for reply in (
            blocks.dm_reply(t, locale, PORTAL),
            blocks.help_reply(t, locale, PORTAL, unknown=True),
            blocks.door_reply(t, locale, PORTAL),
            blocks.social_map_reply(t, locale, (entry,), PORTAL),
        ):
            payload, text = reply
            await client.chat_postMessage(channel="C0ALL", text=text, blocks=payload)


def sent_payloads(slack_api: SlackApiSimulator) -> list[tuple[str, dict[str, Any]]]:
    return [(c.method, c.params) for c in slack_api.calls if c.method in TYPE_OF and c.status == 200]


async def test_hostile_names_and_titles_render_as_text_and_every_payload_type_checks(
    slack_api: SlackApiSimulator, content: ContentLibrary, tmp_path: Path
) -> None:
    await send_everything(slack_api, content)
    calls = sent_payloads(slack_api)
    assert {m for m, _ in calls} == set(TYPE_OF)
    assert len(calls) == 2 * 4 * 2 + 1 + 2 + 2 * 5
    for _method, params in calls:
        assert_shown_as_text(params)
    everything = json.dumps([p for _, p in calls], ensure_ascii=False)
    assert "&lt;!channel&gt;" in everything  # shown, as text
    assert "*Jan \u2217de\u2217" not in everything  # (the hostile string is not in bold here) …
    assert "\u2217Jan\u2217" in everything  # … but inside bold its markers are look-alikes

    checked = type_check(tmp_path, typed_source(calls))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_type_check_rejects_a_payload_slack_would_refuse(tmp_path: Path) -> None:
    wrong = {
        "channel": "C1",
        "text": "x",
        "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "*x*"}}],
    }
    checked = type_check(tmp_path, typed_source([("chat.postMessage", wrong)]))
    assert checked.returncode != 0
    assert "plain_text" in checked.stdout


@pytest.mark.parametrize("name", ["Jan *de* Vries", "_Anna_", "a*b_c~d`e"])
def test_bold_names_stay_bold(name: str) -> None:
    shown = blocks.strong(name)
    assert shown.startswith("*")
    assert shown.endswith("*")
    assert not set("*_~`") & set(shown[1:-1])

"""The management summary of a large organisation arrives whole, on Teams and on Slack.

An organisation of 30 groups (3 departments, 26 teams, some too small to show and some shown only as a band)
has its months released (noise drawn and stored, as the service does), and the service sends the summary to
management through the real renderers and gateways: Teams to the Bot Framework connector double, which refuses
what Teams refuses as too large (413 "MessageSizeTooBig"), and Slack to the Web API simulator, which refuses what
Slack refuses (`msg_blocks_too_long` and the other block limits). One message could not hold it on either
platform; it arrives as numbered messages ("deel 1/3"), each accepted: the first with the chart, the organisation
and its departments, the next ones every team under its department's name. Every group is there exactly once,
with the very text the summary gives it everywhere else — hidden groups stay hidden, with nothing but their name —
every card passes Microsoft's `adaptivecards` (the connector fixture) and every Slack payload type-checks against
Slack's own TypeScript types.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp

from bot.adapters import slack
from bot.adapters.teams import reference_store
from bot.adapters.teams.gateway import RetryPolicy, TeamsGateway
from bot.app import Services
from bot.domain.aggregation import RoundInput, Visibility, build_release
from bot.domain.insights import load_insights, summary_groups
from bot.domain.privacy import EPSILON_PER_PERIOD
from bot.domain.summary import page_order
from bot.domain.tenancy import GroupKind, Platform
from bot.reporting import service as pulses_feature
from bot.storage.teams_references import TeamsReference, TeamsScope
from tests.adapters.slack.test_payload_types import type_check, typed_source
from tests.doubles.bf_connector import BotConnectorDouble
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator
from tests.pulses.simulation import SeededLaplace
from tests.support.slack import bot_channel, linked_org, slack_services, start_service, stop_service

TENANT = "tenant-linde"
TEAMS_CHANNEL = "19:management@thread.tacv2"
SLACK_CHANNEL = "C0MGMT"
DEPARTMENTS = ("Zorg & Welzijn", "Wonen", "Ondersteuning")
PART = re.compile(r" — deel (\d+)/(\d+)$")


def respondents(number: int) -> int:
    """Every seventh team too small to show anything, every fifth only a band, the others with figures."""
    if number % 7 == 0:
        return 3
    if number % 5 == 0:
        return 7
    return 12 + number


def teams_text(text: str) -> str:
    """A TextBlock's text as the reader sees it: no Markdown escapes, joiners or no-break indentation."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u2060", "").replace("\u00a0", " ")


def slack_text(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def numbered(titles: list[str]) -> list[tuple[int, int]]:
    found = [PART.search(title) for title in titles]
    assert all(found), titles
    return [(int(m.group(1)), int(m.group(2))) for m in found if m]


async def test_a_summary_of_thirty_groups_arrives_whole_in_numbered_messages(  # noqa: PLR0915  (one story)
    services: Services, slack_api: SlackApiSimulator, bf_connector: BotConnectorDouble, tmp_path: Path
) -> None:
    configured = slack_services(services, slack_api, scheduler=False, slack_bot_token=DEFAULT_TOKEN)
    t = configured.content.translator
    org = await linked_org(configured, name="Zorggroep De Linde", slug="linde")
    organisations = configured.organisations
    departments = [await organisations.add_group(org.id, d, GroupKind.DEPARTMENT, None) for d in DEPARTMENTS]
    people: dict[uuid.UUID, int] = {}
    for number in range(26):
        department = departments[number % len(departments)]
        team = await organisations.add_group(org.id, f"Team {number:02d}", GroupKind.TEAM, department.slug)
        people[team.id] = respondents(number)
    tree = await organisations.group_tree(org.id)
    assert len(tree.groups) == 30
    bot_channel(slack_api, SLACK_CHANNEL, "management")

    # Teams: the management channel's conversation reference, the real gateway on the connector double.
    store = reference_store(configured)
    await store.connect_tenant(org.id, TENANT)
    address = await store.save(
        org.id,
        TeamsReference(
            scope=TeamsScope.CHANNEL,
            tenant_id=TENANT,
            service_url=bf_connector.url,
            bot_id="28:bot",
            conversation_id=TEAMS_CHANNEL,
            team_id="19:team",
            team_name="Management",
            channel_name="General",
        ),
    )
    http = aiohttp.ClientSession()
    configured.platforms[Platform.TEAMS].gateway = TeamsGateway(
        store, http, None, RetryPolicy(attempts=2, base_delay=0.01)
    )
    running = await start_service(configured, [slack.install, pulses_feature.install])
    try:
        pulses = configured.pulses
        assert pulses is not None
        await pulses.store.set_management_channel(org.id, Platform.SLACK, DEFAULT_TEAM, SLACK_CHANNEL)
        await pulses.store.set_management_channel(org.id, Platform.TEAMS, TENANT, address)
        checkin = configured.content.catalog.pulse_set("wekelijkse-check-in")
        assert checkin is not None
        for seed, period in enumerate(("2026-01", "2026-02", "2026-03")):
            start = datetime.fromisoformat(f"{period}-05T09:00:00+00:00")
            counts = {
                group: {q.id: {"goed" if q.kind.value == "choice" else "4": n} for q in checkin.questions}
                for group, n in people.items()
            }
            release = build_release(
                checkin,
                period,
                [RoundInput(uuid.uuid4(), start, start, tree, counts)],
                EPSILON_PER_PERIOD,
                SeededLaplace(seed),
                start + timedelta(days=30),
            )
            assert await pulses.store.save_release(org.id, release)

        # What the summary says about each group, in the order of the tree: the one text every output uses.
        insights = await load_insights(pulses.store, checkin, org.id)
        assert insights.latest is not None
        groups = summary_groups(insights, t, "nl")
        expected = [g.text for g in groups]
        assert len(expected) == 30
        hidden = [c for c in insights.latest.cells if c.visibility is Visibility.HIDDEN]
        banded = [c for c in insights.latest.cells if c.visibility is Visibility.BANDED]
        assert len(hidden) >= 3
        assert banded

        assert await pulses.send_summary(org.id, "wekelijkse-check-in") == 2  # both platforms, whole

        # --- Teams: every message accepted by the connector, within the size limit ------------------------
        sends = [r for r in bf_connector.requests if r.kind == "send"]
        assert sends
        assert {r.status for r in sends} == {200}, [r.status for r in sends]
        activities = bf_connector.activities(TEAMS_CHANNEL, kind="send")
        assert len(activities) >= 2
        parts = numbered([a["summary"] for a in activities])
        assert parts == [(n, len(activities)) for n in range(1, len(activities) + 1)]
        cards = [a["attachments"][0]["content"] for a in activities]
        images = [[e for e in c["body"] if e["type"] == "Image"] for c in cards]
        assert [len(found) for found in images] == [1] + [0] * (len(cards) - 1)  # the chart once, first
        shown = [[teams_text(e["text"]) for e in c["body"] if e["type"] == "TextBlock"] for c in cards]
        everywhere = [text for texts in shown for text in texts]
        for text in expected:
            assert everywhere.count(text) == 1, text
        # The first message: the organisation and its departments, in the order of the tree; the others the
        # teams, each run under its department's name. What is hidden and why closes the last.
        first = [text for text in shown[0] if text in expected]
        assert first == [g.text for g in groups if g.depth <= 1]
        later = [text for texts in shown[1:] for text in texts if text in expected]
        assert later == [g.text for g in groups if g.depth > 1]
        for texts in shown[1:]:
            assert texts[1].strip().endswith("(vervolg)")  # the department the first team belongs to
        assert t.t("nl", "insights.continued", count=len(cards) - 1) in shown[0]
        explained = [n for n, texts in enumerate(shown) if any("groepen verborgen" in t for t in texts)]
        assert explained == [len(shown) - 1]
        # Hidden teams: their name and "verborgen", nothing else, in every message.
        for cell in hidden:
            line = f"{'  ' * cell.depth}{cell.group.name}: verborgen"
            assert everywhere.count(line) == 1

        # --- Slack: every message accepted by the simulator, the chart once --------------------------------
        posts = slack_api.calls_to("chat.postMessage")
        messages = [m for m in slack_api.messages[SLACK_CHANNEL] if m.get("blocks")]
        assert len(messages) == len(posts) >= 2  # none refused
        headers = [m["blocks"][0]["text"]["text"] for m in messages]
        assert numbered(headers) == [(n, len(messages)) for n in range(1, len(messages) + 1)]
        assert [m["text"] for m in messages] == headers
        sections = [
            slack_text(b["text"]["text"]) for m in messages for b in m["blocks"] if b["type"] == "section"
        ]
        for text in expected:
            assert sections.count(text) == 1, text
        assert [s for s in sections if s in expected] == [g.text for g in page_order(groups)]
        assert len(slack_api.calls_to("files.completeUploadExternal")) == 1
        checked = type_check(tmp_path, typed_source([("chat.postMessage", c.params) for c in posts]))
        assert checked.returncode == 0, checked.stdout + checked.stderr

        # Nothing about a hidden group but its name, anywhere.
        traffic = json.dumps([activities, messages], ensure_ascii=False)
        for cell in hidden:
            assert re.search(re.escape(cell.group.name) + r": (?!verborgen)", traffic) is None
    finally:
        await http.close()
        await stop_service(running)

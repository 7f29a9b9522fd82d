"""Pulses on Teams end to end, over HTTP: the service with the Teams adapter, outreach and pulses, the Bot Framework
connector double as Teams. The round goes out through the outreach pipeline to a bound channel and a personal chat
as a card with one-click Universal Action (Action.Execute) buttons and the door; clicks are `adaptiveCard/action`
invokes posted into /api/messages. Nothing that stays in Teams shows who took part: no click, in a channel or in
the person's own chat, changes the card or sends anything to the conversation; the clicker alone gets a transient
notice in the invoke's answer ("thank you", "already answered", "closed"). An older Action.Submit click is recorded
and answered with nothing at all. Answers count for the channel's team or the round's audience."""

from __future__ import annotations

from typing import Any

from bot.adapters import teams
from bot.adapters.teams.cards import ACTION_KEY
from bot.app import Services
from bot.domain.outreach import Audience, What
from bot.domain.pulses import ACTION_PREFIX
from bot.domain.tenancy import GroupKind
from bot.reporting import service as pulses_feature
from scheduler import service as outreach_feature
from scheduler.worker import WorkerConfig
from tests.adapters.teams.support import (
    CHANNEL_ID,
    PERSONAL_CHAT,
    activity,
    connect,
    install_in_chat_and_channel,
    serving,
)
from tests.doubles.bf_connector import BotConnectorDouble

FEATURES = [teams.install, outreach_feature.install, pulses_feature.install]


def card_of(sent: dict[str, Any]) -> dict[str, Any]:
    return dict(sent["attachments"][0]["content"])


def answer_sets(card: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [e["actions"] for e in card["body"] if e["type"] == "ActionSet"]


async def test_a_pulse_on_teams_over_http(  # noqa: PLR0915  (one story, told in order)
    services: Services, bf_connector: BotConnectorDouble
) -> None:
    configured = Services(
        settings=services.settings.model_copy(update={"scheduler_enabled": False}),
        clock=services.clock,
        engine=services.engine,
        content=services.content,
    )
    org = await connect(configured, slug="linde")
    await configured.organisations.add_group(org.id, "Zorg Noord", GroupKind.DEPARTMENT, None)
    await configured.organisations.add_group(org.id, "Team Noord", GroupKind.TEAM, "zorg-noord")

    async with serving(configured, FEATURES) as (server, http):

        async def post(body: dict[str, Any]) -> list[Any]:
            before = len(bf_connector.requests)
            async with http.post(str(server.make_url("/api/messages")), json=body) as response:
                assert response.status in {200, 201, 202}, await response.text()
            return [r for r in bf_connector.requests[before:] if r.kind in {"send", "reply", "update"}]

        await install_in_chat_and_channel(post, bf_connector.url, configured, org, "team-noord")

        outreach, pulses = configured.outreach, configured.pulses
        assert outreach is not None
        assert pulses is not None
        done = await outreach.materialiser.publish_now(
            org,
            What.PULSE,
            "wekelijkse-check-in",
            Audience(groups=("zorg-noord", "team-noord"), members=True),
            "nl",
        )
        assert done.deliveries == 2
        assert await outreach.worker(WorkerConfig(rate_per_second=100, poll_interval=0.05)).drain() == 2

        def latest(conversation: str) -> Any:
            return [
                r for r in bf_connector.requests if r.kind == "send" and r.conversation_id == conversation
            ][-1]

        chat_post, channel_post = latest(PERSONAL_CHAT), latest(CHANNEL_ID)
        card = card_of(chat_post.body)
        assert card_of(channel_post.body) == card
        questions = answer_sets(card)
        # The weekly check-in: three statements on a five-point scale and one question with three choices.
        assert [len(buttons) for buttons in questions] == [5, 5, 5, 3]
        assert all(
            b["type"] == "Action.Execute"
            and b["data"][ACTION_KEY] == ACTION_PREFIX
            and b["data"]["lang"] == "nl"
            for b in questions[0]
        )
        assert card["actions"][0]["type"] == "Action.OpenUrl"  # the door: "Ik wil graag praten"
        assert card["actions"][0]["url"] == "http://vipbot.test/portal/linde"

        async def click(
            data: dict[str, Any], user: str, *, scope: str = "personal", card_id: str
        ) -> tuple[dict[str, Any], list[Any]]:
            """A click as Teams sends it: (the invoke's answer, what the bot sent to the conversation)."""
            body = activity(
                bf_connector.url,
                "invoke",
                scope=scope,
                name="adaptiveCard/action",
                value={
                    "action": {"type": "Action.Execute", "verb": data[ACTION_KEY], "data": data},
                    "trigger": "manual",
                },
                replyToId=card_id,
                **{"from": {"id": user, "aadObjectId": "00000000-0000-0000-0000-0000000000aa"}},
            )
            before = len(bf_connector.requests)
            async with http.post(str(server.make_url("/api/messages")), json=body) as response:
                assert response.status == 200, await response.text()
                answer = await response.json()
            return answer, [r for r in bf_connector.requests[before:] if r.kind != "token"]

        def notice(answer: dict[str, Any]) -> str:
            assert answer["statusCode"] == 200
            assert answer["type"] == "application/vnd.microsoft.activity.message"  # transient, kept nowhere
            return str(answer["value"])

        # A click in a channel: recorded; the clicker alone is thanked, nothing is said in the channel.
        answer, sent = await click(
            questions[0][3]["data"], "29:person-a", scope="channel", card_id=channel_post.answered_id
        )
        assert "Dank je wel" in notice(answer)
        assert sent == []

        # In the personal chat the same: the card is not rewritten (no lasting record of who answered which
        # question, and when), and the notice is the same whatever was answered.
        low, sent_low = await click(questions[0][0]["data"], "29:person-b", card_id=chat_post.answered_id)
        high, sent_high = await click(questions[0][4]["data"], "29:person-c", card_id=chat_post.answered_id)
        assert sent_low == sent_high == []
        assert notice(low) == notice(high)
        assert "Dank je wel" in notice(low)

        # The same question again: refused politely, counted once.
        again, sent = await click(questions[0][1]["data"], "29:person-b", card_id=chat_post.answered_id)
        assert "al beantwoord" in notice(again)
        assert sent == []
        # Another question of the same pulse still counts: the card never forgot the first answer, since it
        # never changed.
        second, _ = await click(questions[1][2]["data"], "29:person-b", card_id=chat_post.answered_id)
        assert "Dank je wel" in notice(second)

        # A forged answer value changes nothing and gets the plain refusal.
        forged = {ACTION_KEY: ACTION_PREFIX, "answer": "vp-pulse|not-a-round|q|9"}
        refused, _ = await click(forged, "29:person-d", card_id=chat_post.answered_id)
        assert "Dank je wel" not in notice(refused)

        # A card sent before (Action.Submit) in the personal chat: the click counts, and nothing is sent back —
        # in particular the card is not rewritten with a thank-you.
        legacy = activity(
            bf_connector.url,
            "message",
            value=questions[2][1]["data"],
            replyToId=chat_post.answered_id,
            **{"from": {"id": "29:person-f", "aadObjectId": "00000000-0000-0000-0000-0000000000aa"}},
        )
        assert await post(legacy) == []

        (pulse,) = await pulses.store.rounds(org.id, "wekelijkse-check-in")
        await pulses.service.close_now(org.id, pulse.id)
        counts = await pulses.store.cell_counts(org.id, [pulse.id])
        tree = await configured.organisations.group_tree(org.id)
        noord = tree.by_slug("team-noord")
        assert noord is not None
        # person-a's channel click counts for the channel's team; the personal-chat clicks (b, c on question 1;
        # b on question 2) count for the round's audience.
        by_group: dict[bool, int] = {}
        for cell in counts:
            by_group[cell.group_id == noord.id] = by_group.get(cell.group_id == noord.id, 0) + cell.answers
        assert by_group == {True: 1, False: 4}

        # After the close a click is refused and says so.
        closed, sent = await click(questions[2][0]["data"], "29:person-e", card_id=chat_post.answered_id)
        assert "gesloten" in notice(closed)
        assert sent == []

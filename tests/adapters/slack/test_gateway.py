"""The Slack gateway against the simulator: posting, 429 Retry-After, 5xx without double posts, error kinds."""

from __future__ import annotations

import time

import pytest

from bot.adapters.slack.gateway import (
    BUDGETED_METHODS,
    SlackClients,
    SlackGateway,
    TokenSource,
    parse_message_id,
)
from bot.domain.delivery import (
    Attachment,
    DeliveryError,
    DeliveryFailureKind,
    Rendered,
    Sent,
    Target,
    TargetKind,
)
from bot.domain.tenancy import Platform
from bot.security.secret import Secret
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator


class _Tokens(TokenSource):
    def __init__(self, tokens: dict[str, str]) -> None:
        self._tokens = tokens

    async def token_for(self, workspace_id: str) -> Secret[str] | None:
        token = self._tokens.get(workspace_id)
        return Secret(token) if token else None


MESSAGE = Rendered(
    platform=Platform.SLACK,
    payload={"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Column*"}}]},
    fallback_text="Column",
)


@pytest.fixture
def gateway(slack_api: SlackApiSimulator) -> SlackGateway:
    slack_api.add_channel("C1", "team-a")
    slack_api.add_user("U1")
    return SlackGateway(SlackClients(slack_api.api_url, _Tokens({DEFAULT_TEAM: DEFAULT_TOKEN})), backoff=0.05)


def channel(address: str = "C1") -> Target:
    return Target(Platform.SLACK, DEFAULT_TEAM, TargetKind.CHANNEL, address)


def person(address: str = "U1") -> Target:
    return Target(Platform.SLACK, DEFAULT_TEAM, TargetKind.PERSON, address)


async def test_posts_to_a_channel_and_into_a_persons_dm(
    gateway: SlackGateway, slack_api: SlackApiSimulator
) -> None:
    sent = await gateway.send(channel(), MESSAGE)
    assert parse_message_id(sent.message_id) == ("C1", slack_api.messages["C1"][0]["ts"])
    assert slack_api.messages["C1"][0]["blocks"] == MESSAGE.payload["blocks"]
    dm = await gateway.send(person(), MESSAGE)
    assert dm.message_id.startswith(slack_api.dm_channel("U1") + "/")
    # chat.postMessage with the user id as channel: no conversations.open on the way.
    assert [c.method for c in slack_api.calls] == ["chat.postMessage", "chat.postMessage"]
    assert slack_api.calls[1].params["channel"] == "U1"


async def test_update_and_ephemeral(gateway: SlackGateway, slack_api: SlackApiSimulator) -> None:
    sent = await gateway.send(person(), MESSAGE)
    changed = Rendered(Platform.SLACK, {"blocks": [{"type": "divider"}]}, "Changed")
    slack_api.fail_next("chat.update", status=502)  # safe to repeat: retried inside the send
    await gateway.update(person(), sent, changed)
    (message,) = slack_api.messages[slack_api.dm_channel("U1")]
    assert message["text"] == "Changed"
    assert [c.status for c in slack_api.calls_to("chat.update")] == [502, 200]
    await gateway.ephemeral(channel(), "U1", MESSAGE)
    assert slack_api.ephemerals[0]["user"] == "U1"
    assert slack_api.messages["C1"] == []


async def test_a_429_on_a_post_goes_back_to_the_worker_and_other_methods_wait_for_retry_after(
    gateway: SlackGateway, slack_api: SlackApiSimulator
) -> None:
    # chat.postMessage paced by the budget all replicas share: its 429 is not retried behind that budget's back,
    # it returns to the outbox worker (which pauses the workspace for every replica).
    gateway = SlackGateway(
        SlackClients(slack_api.api_url, _Tokens({DEFAULT_TEAM: DEFAULT_TOKEN}), BUDGETED_METHODS),
        backoff=0.05,
    )
    slack_api.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(DeliveryError) as failure:
        await gateway.send(channel(), MESSAGE)
    assert failure.value.kind is DeliveryFailureKind.RATE_LIMITED
    assert failure.value.retry_after == 7
    assert [c.status for c in slack_api.calls_to("chat.postMessage")] == [429]
    sent = await gateway.send(channel(), MESSAGE)
    # Other methods keep slack-sdk's handler: it waits for Retry-After and tries again.
    slack_api.fail_next("chat.update", status=429, retry_after=1)
    started = time.monotonic()
    await gateway.update(channel(), sent, MESSAGE)
    assert time.monotonic() - started >= 1.0
    calls = slack_api.calls_to("chat.update")
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.0
    assert len(slack_api.messages["C1"]) == 1


async def test_a_persistent_429_fails_as_rate_limited_with_retry_after(
    gateway: SlackGateway, slack_api: SlackApiSimulator
) -> None:
    slack_api.fail_next("chat.postMessage", status=429, retry_after=0, count=10)
    with pytest.raises(DeliveryError) as failure:
        await gateway.send(channel(), MESSAGE)
    assert failure.value.kind is DeliveryFailureKind.RATE_LIMITED
    assert failure.value.retry_after == 0
    assert slack_api.messages["C1"] == []


async def test_a_5xx_before_posting_is_retried_and_posts_once(
    gateway: SlackGateway, slack_api: SlackApiSimulator
) -> None:
    slack_api.fail_next("chat.postMessage", status=500, count=2)
    sent = await gateway.send(channel(), MESSAGE)
    assert len(slack_api.messages["C1"]) == 1
    assert sent.message_id == f"C1/{slack_api.messages['C1'][0]['ts']}"
    assert [c.status for c in slack_api.calls_to("chat.postMessage")] == [500, 500, 200]


@pytest.mark.parametrize("target", [channel(), person()], ids=["channel", "person"])
async def test_a_5xx_after_slack_posted_does_not_post_twice(
    gateway: SlackGateway, slack_api: SlackApiSimulator, target: Target
) -> None:
    slack_api.fail_next("chat.postMessage", status=503, accept=True)
    sent = await gateway.send(target, MESSAGE)
    where = "C1" if target.kind is TargetKind.CHANNEL else slack_api.dm_channel("U1")
    (only,) = slack_api.messages[where]
    assert sent == Sent(f"{where}/{only['ts']}")
    assert len(slack_api.calls_to("chat.postMessage")) == 1
    assert slack_api.calls_to("conversations.history")


async def test_when_the_outcome_cannot_be_checked_it_does_not_post_again(
    gateway: SlackGateway, slack_api: SlackApiSimulator
) -> None:
    slack_api.fail_next("chat.postMessage", status=503, accept=True)
    slack_api.fail_next("conversations.history", error="missing_scope")
    with pytest.raises(DeliveryError) as failure:
        await gateway.send(channel(), MESSAGE)
    assert failure.value.kind is DeliveryFailureKind.TRANSIENT
    assert "outcome is unknown" in failure.value.reason
    assert len(slack_api.messages["C1"]) == 1
    assert len(slack_api.calls_to("chat.postMessage")) == 1


async def test_persistent_5xx_fails_as_transient(gateway: SlackGateway, slack_api: SlackApiSimulator) -> None:
    slack_api.fail_next("chat.postMessage", status=500, count=10)
    with pytest.raises(DeliveryError) as failure:
        await gateway.send(channel(), MESSAGE)
    assert failure.value.kind is DeliveryFailureKind.TRANSIENT
    assert slack_api.messages["C1"] == []


@pytest.mark.parametrize(
    "error",
    [
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "account_inactive",
        "team_access_not_granted",
        "token_revoked",
    ],
)
async def test_slack_errors_that_retrying_cannot_fix_are_permanent(
    gateway: SlackGateway, slack_api: SlackApiSimulator, error: str
) -> None:
    slack_api.fail_next("chat.postMessage", error=error)
    with pytest.raises(DeliveryError) as failure:
        await gateway.send(channel(), MESSAGE)
    assert failure.value.kind is DeliveryFailureKind.PERMANENT
    assert error in failure.value.reason
    assert len(slack_api.calls_to("chat.postMessage")) == 1


async def test_real_permanent_conditions(gateway: SlackGateway, slack_api: SlackApiSimulator) -> None:
    slack_api.add_channel("C2", "old", archived=True)
    for target, error in ((channel("C404"), "channel_not_found"), (channel("C2"), "is_archived")):
        with pytest.raises(DeliveryError) as failure:
            await gateway.send(target, MESSAGE)
        assert failure.value.kind is DeliveryFailureKind.PERMANENT
        assert error in failure.value.reason
    with pytest.raises(DeliveryError) as unknown_workspace:
        await gateway.send(Target(Platform.SLACK, "T404", TargetKind.CHANNEL, "C1"), MESSAGE)
    assert unknown_workspace.value.kind is DeliveryFailureKind.PERMANENT
    revoked = SlackGateway(SlackClients(slack_api.api_url, _Tokens({DEFAULT_TEAM: "xoxb-revoked"})))
    with pytest.raises(DeliveryError) as bad_token:
        await revoked.send(channel(), MESSAGE)
    assert bad_token.value.kind is DeliveryFailureKind.PERMANENT
    assert "invalid_auth" in bad_token.value.reason


async def test_attachments_are_posted_visibly_in_the_channel_right_under_the_message(
    gateway: SlackGateway, slack_api: SlackApiSimulator
) -> None:
    chart = Attachment("pulse.png", "image/png", b"\x89PNG-chart-bytes")
    sent = await gateway.send(channel(), Rendered(Platform.SLACK, MESSAGE.payload, "Pulse", (chart,)))
    (upload,) = slack_api.uploads.values()
    assert upload["data"] == b"\x89PNG-chart-bytes"
    assert upload["channel_id"] == "C1"
    complete = slack_api.calls_to("files.completeUploadExternal")[0]
    assert not complete.params.get("thread_ts")  # not hidden in a thread
    message, shared = slack_api.messages["C1"]
    assert message["ts"] == parse_message_id(sent.message_id)[1]
    assert shared["files"][0]["name"] == "pulse.png"


async def test_reader_locale_follows_a_persons_slack_language(
    gateway: SlackGateway, slack_api: SlackApiSimulator
) -> None:
    slack_api.add_user("UEN", locale="en-GB")
    assert await gateway.reader_locale(person("UEN"), "nl") == "en"
    assert await gateway.reader_locale(person("U1"), "en") == "nl"  # U1's Slack is Dutch
    assert (
        await gateway.reader_locale(channel(), "en") == "en"
    )  # a channel reads in the organisation's language
    assert await gateway.reader_locale(person("UGONE"), "nl") == "nl"  # unknown person: the default
    await gateway.reader_locale(person("UEN"), "nl")
    assert len([c for c in slack_api.calls_to("users.info") if c.params["user"] == "UEN"]) == 1


async def test_outcomes_are_counted_for_metrics(slack_api: SlackApiSimulator) -> None:
    from prometheus_client import CollectorRegistry, Counter

    registry = CollectorRegistry()
    outcomes = Counter("vipbot_slack_sends", "sends", ["method", "outcome"], registry=registry)
    slack_api.add_channel("C1", "team-a")
    gateway = SlackGateway(
        SlackClients(slack_api.api_url, _Tokens({DEFAULT_TEAM: DEFAULT_TOKEN})),
        backoff=0.01,
        outcomes=outcomes,
    )
    await gateway.send(channel(), MESSAGE)
    slack_api.fail_next("chat.postMessage", status=503, accept=True)
    await gateway.send(channel(), MESSAGE)
    with pytest.raises(DeliveryError):
        await gateway.send(channel("C404"), MESSAGE)

    def count(outcome: str) -> float | None:
        return registry.get_sample_value(
            "vipbot_slack_sends_total", {"method": "chat.postMessage", "outcome": outcome}
        )

    assert (count("sent"), count("recovered"), count("permanent")) == (2.0, 1.0, 1.0)

"""The Slack Web API simulator answers slack-sdk like Slack does, and its programmed failures happen."""

from __future__ import annotations

import time

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.doubles.slack_api import DEFAULT_TOKEN, SlackApiSimulator


async def test_records_calls_and_posts_into_the_dm_of_a_user(slack_api: SlackApiSimulator) -> None:
    slack_api.add_user("U1", locale="en-US")
    client = AsyncWebClient(token=DEFAULT_TOKEN, base_url=slack_api.api_url)
    auth = await client.auth_test()
    assert auth["team_id"] == "T0001"
    posted = await client.chat_postMessage(channel="U1", text="hello", blocks=[{"type": "divider"}])
    assert posted["channel"] == "D1"
    assert slack_api.messages["D1"][0]["blocks"] == [{"type": "divider"}]
    info = await client.users_info(user="U1", include_locale=True)
    assert info["user"]["locale"] == "en-US"
    assert [c.method for c in slack_api.calls] == ["auth.test", "chat.postMessage", "users.info"]
    assert slack_api.calls_to("chat.postMessage")[0].token == DEFAULT_TOKEN


async def test_programmed_errors_and_unknown_tokens(slack_api: SlackApiSimulator) -> None:
    slack_api.add_channel("C1", "general")
    client = AsyncWebClient(token=DEFAULT_TOKEN, base_url=slack_api.api_url)
    slack_api.fail_next("chat.postMessage", error="is_archived")
    with pytest.raises(SlackApiError) as archived:
        await client.chat_postMessage(channel="C1", text="x")
    assert archived.value.response["error"] == "is_archived"
    slack_api.fail_next("chat.postMessage", status=503)
    with pytest.raises(SlackApiError) as unavailable:
        await client.chat_postMessage(channel="C1", text="x")
    assert unavailable.value.response.status_code == 503
    assert slack_api.messages["C1"] == []
    slack_api.fail_next("chat.postMessage", status=500, accept=True)
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C1", text="accepted")
    assert [m["text"] for m in slack_api.messages["C1"]] == ["accepted"]
    with pytest.raises(SlackApiError) as bad:
        await AsyncWebClient(token="xoxb-nope", base_url=slack_api.api_url).auth_test()
    assert bad.value.response["error"] == "invalid_auth"


async def test_429_with_retry_after_and_enforced_limit(slack_api: SlackApiSimulator) -> None:
    slack_api.add_channel("C1", "general")
    client = AsyncWebClient(
        token=DEFAULT_TOKEN, base_url=slack_api.api_url, retry_handlers=[AsyncRateLimitErrorRetryHandler()]
    )
    slack_api.fail_next("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    await client.chat_postMessage(channel="C1", text="x")
    assert time.monotonic() - started >= 1.0
    assert [c.status for c in slack_api.calls_to("chat.postMessage")] == [429, 200]
    slack_api.limit("chat.update", per_second=0.5)
    ts = slack_api.messages["C1"][0]["ts"]
    bare = AsyncWebClient(token=DEFAULT_TOKEN, base_url=slack_api.api_url)
    await bare.chat_update(channel="C1", ts=ts, text="y")
    with pytest.raises(SlackApiError) as limited:
        await bare.chat_update(channel="C1", ts=ts, text="z")
    assert limited.value.response.status_code == 429
    assert int(limited.value.response.headers["Retry-After"]) >= 1


async def test_oauth_and_file_upload_flow(slack_api: SlackApiSimulator) -> None:
    slack_api.add_oauth_grant("code-1", "T2", "xoxb-t2")
    client = AsyncWebClient(base_url=slack_api.api_url)
    # Client credentials as form fields (slack-sdk's own oauth_v2_access uses aiohttp's deprecated BasicAuth).
    with pytest.raises(SlackApiError):
        await client.api_call(
            "oauth.v2.access",
            data={"client_id": slack_api.client_id, "client_secret": "wrong", "code": "code-1"},
        )
    granted = await client.api_call(
        "oauth.v2.access",
        data={"client_id": slack_api.client_id, "client_secret": slack_api.client_secret, "code": "code-1"},
    )
    assert granted["team"]["id"] == "T2"
    t2 = AsyncWebClient(token="xoxb-t2", base_url=slack_api.api_url)
    assert (await t2.auth_test())["team_id"] == "T2"
    slack_api.add_channel("C9", "charts")
    await t2.files_upload_v2(channel="C9", content=b"PNGDATA", filename="chart.png", title="Chart")
    upload = next(iter(slack_api.uploads.values()))
    assert upload["data"] == b"PNGDATA"
    assert upload["channel_id"] == "C9"
    assert slack_api.traffic_contains("PNGDATA")


@pytest.mark.parametrize(
    ("blocks", "text", "error"),
    [
        ([{"type": "divider"}] * 51, "x", "invalid_blocks"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "x", "invalid_blocks"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "x", "invalid_blocks"),
        (
            [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 4,
            "x",
            "msg_blocks_too_long",
        ),
        ([{"type": "divider"}], "x" * 40_001, "msg_too_long"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2700}}] * 4, "x", None),
    ],
)
async def test_messages_are_held_to_slack_s_limits(
    slack_api: SlackApiSimulator, blocks: list[dict[str, object]], text: str, error: str | None
) -> None:
    slack_api.add_channel("C1", "general")
    client = AsyncWebClient(token=DEFAULT_TOKEN, base_url=slack_api.api_url)
    if error is None:
        await client.chat_postMessage(channel="C1", text=text, blocks=blocks)
        assert len(slack_api.messages["C1"]) == 1
        return
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C1", text=text, blocks=blocks)
    assert refused.value.response["error"] == error
    assert slack_api.messages["C1"] == []

"""The connector double itself: paths, recorded bodies, programmed failures."""

from __future__ import annotations

import aiohttp

from tests.doubles.bf_connector import ISSUED_TOKEN, BotConnectorDouble


async def test_records_sends_updates_and_creations(bf_connector: BotConnectorDouble) -> None:
    async with aiohttp.ClientSession(base_url=bf_connector.url) as http:
        async with http.post("/v3/conversations/19:c@thread/activities", json={"type": "message"}) as r:
            assert r.status == 200
            sent = (await r.json())["id"]
        async with http.put(
            f"/v3/conversations/19:c@thread/activities/{sent}", json={"type": "message"}
        ) as r:
            assert (await r.json())["id"] == sent
        async with http.post("/v3/conversations", json={"members": [{"id": "29:x"}]}) as r:
            assert r.status == 201
            assert (await r.json())["id"].startswith("a:")
    assert [r.kind for r in bf_connector.requests] == ["send", "update", "create_conversation"]
    assert len(bf_connector.activities("19:c@thread")) == 2
    assert bf_connector.created_conversations() == [{"members": [{"id": "29:x"}]}]


async def test_programmed_failures(bf_connector: BotConnectorDouble) -> None:
    bf_connector.fail_next(1, 429, retry_after=2)
    bf_connector.fail_next(1, 503)
    bf_connector.remove_conversation("gone", 404)
    async with aiohttp.ClientSession(base_url=bf_connector.url) as http:
        async with http.post("/v3/conversations/x/activities", json={}) as r:
            assert (r.status, r.headers["Retry-After"]) == (429, "2")
        async with http.post("/v3/conversations/x/activities", json={}) as r:
            assert r.status == 503
        async with http.post("/v3/conversations/x/activities", json={}) as r:
            assert r.status == 200
        async with http.post("/v3/conversations/gone/activities", json={}) as r:
            assert (r.status, (await r.json())["error"]["code"]) == (404, "ConversationNotFound")
    assert len(bf_connector.activities()) == 1


async def test_token_endpoint_and_required_token() -> None:
    double = BotConnectorDouble(require_token=True)
    await double.start()
    try:
        async with aiohttp.ClientSession(base_url=double.url) as http:
            form = {
                "grant_type": "client_credentials",
                "client_id": "app",
                "client_secret": "pw",
                "scope": "s",
            }
            async with http.post("/botframework.com/oauth2/v2.0/token", data=form) as r:
                assert (await r.json())["access_token"] == ISSUED_TOKEN
            async with http.post("/v3/conversations/x/activities", json={}) as r:
                assert r.status == 401
            headers = {"Authorization": f"Bearer {ISSUED_TOKEN}"}
            async with http.post("/v3/conversations/x/activities", json={}, headers=headers) as r:
                assert r.status == 200
    finally:
        await double.stop()


async def test_a_message_too_large_is_refused_as_teams_does(bf_connector: BotConnectorDouble) -> None:
    """413 "MessageSizeTooBig", nothing delivered: over 28 KB with the image, or over 40 KB as UTF-16 without it."""
    image = "data:image/png;base64," + "A" * 20_000

    def activity(text: str, url: str = "") -> dict[str, object]:
        body = [{"type": "TextBlock", "text": text}, {"type": "Image", "url": url}]
        return {"type": "message", "attachments": [{"content": {"type": "AdaptiveCard", "body": body}}]}

    async with aiohttp.ClientSession(base_url=bf_connector.url) as http:
        for payload, status in (
            (activity("x" * 7_000, image), 200),  # 27 KB with the image
            (activity("x" * 9_000, image), 413),  # 29 KB with the image
            (activity("x" * 20_000), 200),  # 20 KB: 40 KB as UTF-16
            (activity("x" * 21_000), 413),  # 21 KB: 42 KB as UTF-16
        ):
            async with http.post("/v3/conversations/19:c@thread/activities", json=payload) as r:
                assert r.status == status, len(str(payload))
                if status == 413:
                    assert (await r.json())["error"]["code"] == "MessageSizeTooBig"
            async with http.put("/v3/conversations/19:c@thread/activities/a-1", json=payload) as r:
                assert r.status == status
    assert len(bf_connector.activities("19:c@thread")) == 4

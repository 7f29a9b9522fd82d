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

"""What the browser keeps and what signing out ends: POST/redirect/GET, the portal cookie, the inbox at sign-out."""

from __future__ import annotations

import re

from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.clock import FixedClock
from tests.console.helpers import csrf_from, form_token, sign_in
from tests.portal.test_inbox_web import PASSPHRASE, client, counsellor, unlock  # noqa: F401 - fixture
from tests.portal.test_portal_web import Site, form_fields, hidden, site  # noqa: F401 - fixture


async def test_start_answers_with_a_redirect_and_a_reload_is_calm(site: Site) -> None:  # noqa: F811
    fields = await form_fields(site.client, "/portal/de-linde/start")
    body = {**fields, "mode": "pseudonymous", "identity": "Sam", "text": "Mijn eerste bericht"}
    answer = await site.client.post("/portal/de-linde/start", data=body, allow_redirects=False)
    assert answer.status == 303
    code_url = answer.headers["Location"]
    assert code_url == "/portal/de-linde/code"
    shown = await site.client.get(code_url)
    assert shown.status == 200
    assert re.search(r'id="receipt-code" data-code="[0-9A-Z-]+"', await shown.text())
    # a reload shows no code again and no error: the conversation
    reload = await site.client.get(code_url)
    assert reload.status == 200
    assert 'id="receipt-code"' not in await reload.text()
    assert "Mijn eerste bericht" in await reload.text()
    # the start page has no field that a browser would fill in or restore
    html = await (await site.client.get("/portal/de-linde/start")).text()
    assert re.search(r'<form method="post" autocomplete="off"', html)
    assert re.search(r'<textarea id="text"[^>]*autocomplete="off"', html)


async def test_a_refused_start_is_a_redirect_and_its_reload_is_not_429(site: Site) -> None:  # noqa: F811
    fields = await form_fields(site.client, "/portal/de-linde/start")
    body = {**fields, "mode": "anonymous", "text": "Een tekst die blijft staan"}
    first = await site.client.post("/portal/de-linde/start", data=body)
    replayed = await site.client.post("/portal/de-linde/start", data=body, allow_redirects=False)
    assert first.status == 200
    assert replayed.status == 303  # the spent challenge is refused, but not on a page answering the POST
    refused = await site.client.get(replayed.headers["Location"])
    assert refused.status == 429
    assert "Een tekst die blijft staan" in await refused.text()  # what was typed is back, once
    reload = await site.client.get(replayed.headers["Location"])
    assert reload.status == 200
    assert "Een tekst die blijft staan" not in await reload.text()


async def test_a_written_message_that_is_refused_comes_back_through_a_redirect(site: Site) -> None:  # noqa: F811
    fields = await form_fields(site.client, "/portal/de-linde/start")
    await site.client.post("/portal/de-linde/start", data={**fields, "mode": "anonymous", "text": "Hallo"})
    html = await (await site.client.get("/portal/de-linde/conversation")).text()
    form = {"csrf_token": hidden(html, "csrf_token"), "after": "0", "text": "Een verouderd antwoord"}
    stale = await site.client.post("/portal/de-linde/conversation", data=form, allow_redirects=False)
    assert stale.status == 303
    page = await site.client.get(stale.headers["Location"])
    assert page.status == 409
    assert "Een verouderd antwoord" in await page.text()


async def test_signing_out_on_this_device_ends_the_session_even_for_a_copied_cookie(site: Site) -> None:  # noqa: F811
    fields = await form_fields(site.client, "/portal/de-linde/start")
    answer = await site.client.post(
        "/portal/de-linde/start", data={**fields, "mode": "anonymous", "text": "Hallo"}, allow_redirects=False
    )
    set_cookie = answer.headers["Set-Cookie"]
    assert set_cookie.startswith("vipbot_portal=")
    assert "Max-Age" not in set_cookie  # a browser-session cookie
    assert "expires" not in set_cookie.lower()
    value = site.client.session.cookie_jar.filter_cookies(site.client.make_url("/"))["vipbot_portal"].value
    page = await site.client.get("/portal/de-linde/conversation", allow_redirects=False)
    assert page.status == 200
    csrf = hidden(await page.text(), "csrf_token")
    left = await site.client.post("/portal/de-linde/leave", data={"csrf_token": csrf})
    assert left.status == 200

    jar = CookieJar(unsafe=True)
    jar.update_cookies({"vipbot_portal": value}, response_url=site.client.make_url("/"))
    async with ClientSession(base_url=str(site.client.make_url("/")), cookie_jar=jar) as copy:
        reused = await copy.get("/portal/de-linde/conversation", allow_redirects=False)
        assert reused.status == 303
        assert reused.headers["Location"].endswith("/portal/de-linde/return")


async def test_signing_out_of_the_console_locks_the_inbox(
    client: TestClient,  # noqa: F811
    services: Services,
    clock: FixedClock,
) -> None:
    person, _channel = await counsellor(services, "de-linde", "mira@vp.test", PASSPHRASE)
    await sign_in(client, person, clock)
    assert await unlock(client, "de-linde", PASSPHRASE) == 200
    cookies = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    inbox_cookie = cookies["vipbot_inbox"].value
    locked_page = await client.get("/console/o/de-linde/inbox")
    assert "Ontgrendel je sleutel" not in await locked_page.text()
    await client.post("/console/logout", data={"csrf_token": await form_token(client, "/console/")})
    # signed in again, with the old inbox cookie put back: the inbox is locked
    await sign_in(client, person, clock)
    client.session.cookie_jar.update_cookies(
        {"vipbot_inbox": inbox_cookie}, response_url=client.make_url("/")
    )
    again = await client.get("/console/o/de-linde/inbox")
    assert "Ontgrendel je sleutel" in await again.text()


async def test_the_passphrase_field_does_not_invite_a_password_manager(
    client: TestClient,  # noqa: F811
    services: Services,
    clock: FixedClock,
) -> None:
    person, _channel = await counsellor(services, "de-linde", "mira@vp.test", PASSPHRASE)
    await sign_in(client, person, clock)
    html = await (await client.get("/console/o/de-linde/inbox")).text()
    field = re.search(r'<input[^>]*name="passphrase"[^>]*>', html)
    assert field
    assert 'type="password"' not in html  # Chromium offers to save whatever is typed into a password field
    assert 'autocomplete="off"' in field.group(0)
    assert csrf_from(html)

"""The portal's pages over real HTTP (aiohttp test server on loopback): flow, refusals, abuse limits."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Services, build_app
from bot.domain.conversations import Author
from bot.security import Secret
from bot.web.portal.limits import PortalLimits, ProofOfWork, leading_zero_bits, pow_digest, solve
from bot.web.portal.routes import build_portal_app
from tests.portal.support import PASSPHRASE, Practice, practice

FAST = PortalLimits(pow_bits=4)


@dataclass
class Site:
    client: TestClient[web.Request, web.Application]
    p: Practice


def portal_installer(limits: PortalLimits):
    def install(app: web.Application, services: Services) -> None:
        app.add_subapp("/portal", build_portal_app(services, limits))

    return install


@pytest.fixture
async def site(services: Services) -> AsyncIterator[Site]:
    p = await practice(services)
    app = build_app(services, [portal_installer(FAST)])
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield Site(client, p)
    finally:
        await client.close()


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, name
    return match.group(1)


async def form_fields(client: TestClient[web.Request, web.Application], path: str) -> dict[str, str]:
    response = await client.get(path)
    assert response.status == 200
    html = await response.text()
    challenge = hidden(html, "pow_challenge")
    return {
        "csrf_token": hidden(html, "csrf_token"),
        "pow_challenge": challenge,
        "pow_answer": solve(challenge, FAST.pow_bits),
    }


async def start(site: Site, text: str, **extra: str) -> str:
    fields = await form_fields(site.client, "/portal/de-linde/start")
    response = await site.client.post(
        "/portal/de-linde/start", data={**fields, "mode": "anonymous", "text": text, **extra}
    )
    assert response.status == 200
    html = await response.text()
    match = re.search(r'id="receipt-code" data-code="([0-9A-Z-]+)"', html)
    assert match
    return match.group(1)


async def test_landing_explains_who_sees_what_in_both_languages(site: Site) -> None:
    page = await (await site.client.get("/portal/de-linde")).text()
    # The sociale kaart describes other places in their own words (a complaints committee handles "klachten").
    nl = re.sub(r'<section class="card" aria-labelledby="social-map">.*?</section>', "", page, flags=re.S)
    assert "Sociale kaart" in page or 'aria-labelledby="social-map"' in page
    assert "Wie ziet wat?" in nl
    assert "Zorggroep De Linde" in nl
    assert "melding" not in nl
    assert "klacht" not in nl
    en = await (await site.client.get("/portal/de-linde?lang=en")).text()
    assert "Who sees what?" in en
    response = await site.client.get("/portal/nobody")
    assert response.status == 404


async def test_start_read_reply_write_and_delete(site: Site) -> None:
    code = await start(site, "Mijn leidinggevende maakt opmerkingen.")
    page = await site.client.get("/portal/de-linde/conversation")
    html = await page.text()
    assert "Mijn leidinggevende maakt opmerkingen." in html
    assert page.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]

    # The counsellor replies (service level: the console does the same).
    channel = site.p.channel
    counsellor = await channel.unlock(site.p.counsellor_id, Secret(PASSPHRASE))
    conv_id = (await channel.store.inbox(site.p.counsellor_id))[0].id
    await channel.service.write(site.p.org.id, 90, conv_id, Author.COUNSELLOR, "Dank voor je bericht.", 1)
    assert counsellor.counsellor_id == site.p.counsellor_id

    # A fresh browser comes back with the code.
    site.client.session.cookie_jar.clear()
    fields = await form_fields(site.client, "/portal/de-linde/return")
    response = await site.client.post("/portal/de-linde/return", data={**fields, "code": code.lower()})
    assert response.status == 200
    html = await response.text()
    assert "Dank voor je bericht." in html
    after = hidden(html, "after")
    csrf = hidden(html, "csrf_token")
    sent = await site.client.post(
        "/portal/de-linde/conversation", data={"csrf_token": csrf, "after": after, "text": "Fijn."}
    )
    assert "Fijn." in await sent.text()
    # The same form again (a replay) is refused and the text is kept for the writer.
    again = await site.client.post(
        "/portal/de-linde/conversation", data={"csrf_token": csrf, "after": after, "text": "Fijn."}
    )
    assert again.status == 409
    body = await again.text()
    assert body.count("Fijn.") == 2  # once in the thread, once back in the text box

    delete_page = await site.client.get("/portal/de-linde/delete")
    csrf = hidden(await delete_page.text(), "csrf_token")
    gone = await site.client.post("/portal/de-linde/delete", data={"csrf_token": csrf, "confirm": "yes"})
    assert gone.status == 200
    assert await channel.store.inbox(site.p.counsellor_id) == []


async def test_wrong_code_and_missing_csrf_are_refused(site: Site) -> None:
    await start(site, "Hallo")
    site.client.session.cookie_jar.clear()
    fields = await form_fields(site.client, "/portal/de-linde/return")
    wrong = await site.client.post(
        "/portal/de-linde/return", data={**fields, "code": "0000-0000-0000-0000-0000"}
    )
    assert wrong.status == 400
    assert "vinden we geen gesprek" in await wrong.text()
    no_csrf = await site.client.post("/portal/de-linde/return", data={"code": "0000-0000-0000-0000-0000"})
    assert no_csrf.status == 403


async def test_proof_of_work_and_rate_limits(site: Site) -> None:
    fields = await form_fields(site.client, "/portal/de-linde/return")
    # A challenge is spent once.
    first = await site.client.post(
        "/portal/de-linde/return", data={**fields, "code": "0000-0000-0000-0000-0000"}
    )
    assert first.status == 400
    replay = await site.client.post(
        "/portal/de-linde/return", data={**fields, "code": "0000-0000-0000-0000-0000"}
    )
    assert replay.status == 429
    # Per code: after five tries the same code is refused even with fresh proofs.
    statuses = []
    for _ in range(6):
        fresh = await form_fields(site.client, "/portal/de-linde/return")
        r = await site.client.post(
            "/portal/de-linde/return", data={**fresh, "code": "1111-1111-1111-1111-1111"}
        )
        statuses.append(r.status)
    assert statuses == [400] * 5 + [429]


def test_proof_of_work_checks_tag_expiry_and_work() -> None:
    now = [1_000_000.0]
    pow_ = ProofOfWork(b"k" * 32, 8, 60, wall_clock=lambda: now[0])
    challenge = pow_.challenge()
    answer = solve(challenge, 8)
    assert leading_zero_bits(pow_digest(challenge, answer)) >= 8
    forged = challenge[:-2] + ("AA" if challenge[-2:] != "AA" else "BB")
    assert not pow_.verify(forged, solve(forged, 8))
    wrong = next(str(n) for n in range(10_000) if leading_zero_bits(pow_digest(challenge, str(n))) < 8)
    assert not pow_.verify(challenge, wrong)
    now[0] += 61
    assert not pow_.verify(challenge, answer)
    now[0] -= 61
    assert pow_.verify(challenge, answer)
    assert not pow_.verify(challenge, answer)


async def test_a_start_form_sent_twice_without_javascript_starts_one_conversation(site: Site) -> None:
    fields = await form_fields(site.client, "/portal/de-linde/start")
    unproven = {"csrf_token": fields["csrf_token"], "pow_challenge": fields["pow_challenge"]}
    first = await site.client.post(
        "/portal/de-linde/start", data={**unproven, "mode": "anonymous", "text": "Eén keer"}
    )
    assert first.status == 200
    again = await site.client.post(
        "/portal/de-linde/start", data={**unproven, "mode": "anonymous", "text": "Eén keer"}
    )
    assert again.status == 429
    assert "Eén keer" in await again.text()  # the text is handed back
    assert len(await site.p.channel.store.inbox(site.p.counsellor_id)) == 1


async def test_without_proof_of_work_only_a_small_shared_allowance_remains(site: Site) -> None:
    statuses = []
    for i in range(FAST.unproven_per_organisation + 1):
        fields = await form_fields(site.client, "/portal/de-linde/return")
        unproven = {"csrf_token": fields["csrf_token"], "pow_challenge": fields["pow_challenge"]}
        r = await site.client.post(
            "/portal/de-linde/return", data={**unproven, "code": f"{i:04d}-0000-0000-0000-0000"}
        )
        statuses.append(r.status)
    assert statuses == [400] * FAST.unproven_per_organisation + [429]
    # Without a challenge, or with one used before, nothing happens at all.
    no_challenge = await site.client.post(
        "/portal/de-linde/return",
        data={"csrf_token": fields["csrf_token"], "code": "3333-3333-3333-3333-3333"},
    )
    assert no_challenge.status == 429
    # A wrong proof is refused as well.
    fields = await form_fields(site.client, "/portal/de-linde/return")
    bad = next(
        str(n)
        for n in range(1000)
        if leading_zero_bits(pow_digest(fields["pow_challenge"], str(n))) < FAST.pow_bits
    )
    wrong = await site.client.post(
        "/portal/de-linde/return", data={**fields, "pow_answer": bad, "code": "2222-2222-2222-2222-2222"}
    )
    assert wrong.status == 429


async def test_a_tampered_message_gives_a_clear_refusal_and_nothing_is_lost(
    site: Site, services: Services
) -> None:
    from sqlalchemy import text

    await start(site, "Eerste bericht")
    conv_id = (await site.p.channel.store.inbox(site.p.counsellor_id))[0].id
    original = (await site.p.channel.store.messages(conv_id))[0].ciphertext
    tampered = original[:-1] + bytes([original[-1] ^ 1])
    key = conv_id if services.settings.effective_database_url.startswith("postgres") else conv_id.hex

    async def put(blob: bytes) -> None:
        async with services.engine.begin() as connection:
            await connection.execute(
                text("UPDATE conversation_message SET ciphertext = :x WHERE conversation_id = :c"),
                {"x": blob, "c": key},
            )

    await put(tampered)
    refused = await site.client.get("/portal/de-linde/conversation")
    assert refused.status == 500
    body = await refused.text()
    assert "kan niet veilig worden geopend" in body
    assert "Eerste bericht" not in body
    await put(original)
    restored = await site.client.get("/portal/de-linde/conversation")
    assert "Eerste bericht" in await restored.text()

"""The counsellor's inbox in the console over HTTP: unlock, read, reply, classify, the legal clock, isolation."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Services, build_app
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.conversations import Author, ConversationClosedError, Mode
from bot.security import INSECURE_TEST_ARGON2_PARAMS, INSECURE_TEST_PASSWORD_POLICY, Secret
from bot.web import console
from bot.web.portal.channel import ConfidentialChannel
from tests.console.helpers import Person, csrf_from, make_person, sign_in
from tests.inbox.support import unlock_through

PASSPHRASE = "de wachtwoordzin van mira"


@pytest.fixture
async def client(services: Services) -> AsyncIterator[TestClient]:
    services.password_policy = INSECURE_TEST_PASSWORD_POLICY
    app = build_app(services, features=[console.install])
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def counsellor(
    services: Services, slug: str, email: str, passphrase: str
) -> tuple[Person, ConfidentialChannel]:
    org = await services.organisations.add_organisation(slug.title(), slug, "Europe/Amsterdam", "nl", 90)
    person = await make_person(services, Role.COUNSELLOR, email, org.id)
    channel = ConfidentialChannel(
        services.engine, services.settings, services.clock, argon2=INSECURE_TEST_ARGON2_PARAMS
    )
    assert (
        await channel.add_counsellor(org.id, email, email, Secret(passphrase)) == person.account.counsellor_id
    )
    return person, channel


async def unlock(client: TestClient, slug: str, passphrase: str) -> int:
    """The status of the page the unlock form ends on (always through a redirect: no passphrase in a POST page)."""
    return (await unlock_through(client, slug, passphrase)).status


async def test_unlock_read_reply_classify_and_the_legal_clock(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    person, channel = await counsellor(services, "de-linde", "mira@vp.test", PASSPHRASE)
    org = await services.organisations.get_organisation("de-linde")
    conv_id, _code = await channel.service.start(
        org.id, 90, Mode.PSEUDONYMOUS, "Er wordt gepest in mijn team.", "Sam"
    )
    await sign_in(client, person, clock)

    locked = await client.get("/console/o/de-linde/inbox")
    assert "Ontgrendel je sleutel" in await locked.text()
    assert "gepest" not in await locked.text()
    assert await unlock(client, "de-linde", "verkeerde wachtwoordzin") == 400
    assert await unlock(client, "de-linde", PASSPHRASE) == 200

    listing = await (await client.get("/console/o/de-linde/inbox")).text()
    assert "Gesprek van 2026-03-02" in listing
    assert "nieuw" in listing
    page = await client.get(f"/console/o/de-linde/inbox/{conv_id}")
    html = await page.text()
    assert "Er wordt gepest in mijn team." in html
    assert "Sam" in html
    assert page.headers["Cache-Control"] == "no-store"
    token = csrf_from(html)
    after = re.search(r'name="after" value="(\d+)"', html)
    assert after
    sent = await client.post(
        f"/console/o/de-linde/inbox/{conv_id}/reply",
        data={"csrf_token": token, "text": "Wat naar. Vertel.", "after": after.group(1)},
    )
    assert "Wat naar. Vertel." in await sent.text()
    replay = await client.post(
        f"/console/o/de-linde/inbox/{conv_id}/reply",
        data={"csrf_token": token, "text": "Wat naar. Vertel.", "after": after.group(1)},
    )
    assert replay.status == 409
    _cid, key = await channel.service.access(org.id, _code)
    thread = await channel.service.read(org.id, conv_id, key, Author.EMPLOYEE)
    assert [m.text for m in thread.messages].count("Wat naar. Vertel.") == 1

    classified = await client.post(
        f"/console/o/de-linde/inbox/{conv_id}/classify",
        data={
            "csrf_token": token,
            "category": "bullying",
            "contact_type": "advice",
            "follow_up": "whistleblowing-report",
        },
    )
    html = await classified.text()
    assert "Ontvangst bevestigen uiterlijk 2026-03-09" in html
    assert "Terugkoppeling uiterlijk 2026-06-02" in html
    clock.advance(timedelta(days=8))  # the console session and the unlock have ended by now: start again
    await sign_in(client, person, clock)
    assert await unlock(client, "de-linde", PASSPHRASE) == 200
    overdue = await (await client.get(f"/console/o/de-linde/inbox/{conv_id}")).text()
    assert "termijn verstreken" in overdue
    token = csrf_from(overdue)
    acknowledged = await client.post(
        f"/console/o/de-linde/inbox/{conv_id}/whistleblowing",
        data={"csrf_token": token, "duty": "acknowledge"},
    )
    assert "gedaan op 2026-03-10" in await acknowledged.text()

    await client.post(
        f"/console/o/de-linde/inbox/{conv_id}/status", data={"csrf_token": token, "status": "closed"}
    )
    with pytest.raises(ConversationClosedError):
        await channel.service.write(org.id, 90, conv_id, Author.EMPLOYEE, "nog iets", 3)
    counts = await channel.store.classification_counts(
        org.id, clock.now().date().replace(day=1), clock.now().date()
    )
    assert [(c.category, c.follow_up, c.count) for c in counts] == [("bullying", "whistleblowing-report", 1)]


def set_inbox_cookie(client: TestClient, value: str) -> None:
    client.session.cookie_jar.clear(lambda morsel: morsel.key == "vipbot_inbox")
    client.session.cookie_jar.update_cookies({"vipbot_inbox": value}, response_url=client.make_url("/"))


async def test_the_unlock_needs_both_cookie_and_row_and_lock_ends_it(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    person, channel = await counsellor(services, "de-linde", "mira@vp.test", PASSPHRASE)
    await sign_in(client, person, clock)
    assert await unlock(client, "de-linde", PASSPHRASE) == 200
    cookie = next(c for c in client.session.cookie_jar if c.key == "vipbot_inbox")
    raw = base64.urlsafe_b64decode(cookie.value)
    # The same row with another key opens nothing.
    forged = base64.urlsafe_b64encode(raw[:16] + bytes(32)).decode()
    set_inbox_cookie(client, forged)
    assert "Ontgrendel je sleutel" in await (await client.get("/console/o/de-linde/inbox")).text()
    set_inbox_cookie(client, cookie.value)
    page = await client.get("/console/o/de-linde/inbox")
    assert "Vergrendelen" in await page.text()
    await client.post("/console/o/de-linde/inbox/lock", data={"csrf_token": csrf_from(await page.text())})
    # Even with the old cookie back, the row is gone.
    set_inbox_cookie(client, cookie.value)
    assert "Ontgrendel je sleutel" in await (await client.get("/console/o/de-linde/inbox")).text()
    # And after the unlock lifetime the row no longer opens either.
    assert await unlock(client, "de-linde", PASSPHRASE) == 200
    clock.advance(timedelta(minutes=services.settings.inbox_unlock_minutes + 1))
    assert "Ontgrendel je sleutel" in await (await client.get("/console/o/de-linde/inbox")).text()
    assert channel is not None


async def test_a_counsellor_of_another_organisation_sees_nothing(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    _mira, channel = await counsellor(services, "de-linde", "mira@vp.test", PASSPHRASE)
    org = await services.organisations.get_organisation("de-linde")
    conv_id, _code = await channel.service.start(org.id, 90, Mode.ANONYMOUS, "Alleen voor Mira")
    other, _ = await counsellor(services, "noord", "noor@vp.test", "de wachtwoordzin van noor")
    await sign_in(client, other, clock)
    assert (await client.get("/console/o/de-linde/inbox", allow_redirects=False)).status == 404
    assert await unlock(client, "noord", "de wachtwoordzin van noor") == 200
    assert (await client.get(f"/console/o/noord/inbox/{conv_id}")).status == 404
    listing = await (await client.get("/console/o/noord/inbox")).text()
    assert "Er zijn nog geen gesprekken." in listing

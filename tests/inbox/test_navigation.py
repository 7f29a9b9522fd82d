"""Finding the inbox: a "Gesprekken (n)" menu item in every organisation, the inbox under /console/o/<org>/inbox,
the old addresses redirecting, and the digest's /console/inbox finding the organisation that waits."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.clock import FixedClock
from bot.domain.conversations import Author, Mode
from bot.web.observability import confidential_path
from tests.console.helpers import csrf_from, sign_in
from tests.inbox.support import counsellor_of_two, unlock

NAV = re.compile(r'id="nav-inbox">([^<]*)</a>')


def menu_item(html: str) -> str:
    found = NAV.search(html)
    assert found, "no conversations item in the menu"
    return found.group(1)


async def test_every_organisation_menu_counts_what_waits_for_the_counsellor(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    person, channel, linde, noord = await counsellor_of_two(services)
    first, _ = await channel.service.start(linde.id, 90, Mode.ANONYMOUS, "Een")
    await channel.service.start(linde.id, 90, Mode.ANONYMOUS, "Twee")
    await sign_in(client, person, clock)

    assert menu_item(await (await client.get("/console/o/de-linde")).text()) == "Gesprekken (2)"
    assert menu_item(await (await client.get("/console/o/noord/content")).text()) == "Gesprekken"
    # The counsellor answers one: it now waits for the employee, and the count follows at once.
    await channel.service.write(linde.id, 90, first, Author.COUNSELLOR, "Dag", 1)
    await unlock(client, "de-linde")  # a POST of the counsellor's: what the menu shows is computed again
    assert menu_item(await (await client.get("/console/o/de-linde")).text()) == "Gesprekken (1)"
    # The employee writes again: it waits for the counsellor once more (after the menu's few seconds).
    await channel.service.write(linde.id, 90, first, Author.EMPLOYEE, "Nog iets", 2)
    await unlock(client, "de-linde")
    assert menu_item(await (await client.get("/console/o/de-linde/calendar")).text()) == "Gesprekken (2)"
    # The item leads to the inbox.
    html = await (await client.get("/console/o/de-linde")).text()
    assert 'href="/console/o/de-linde/inbox" id="nav-inbox"' in html
    assert noord.id != linde.id


async def test_the_old_inbox_addresses_redirect_permanently(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    person, channel, linde, _noord = await counsellor_of_two(services)
    conversation, _ = await channel.service.start(linde.id, 90, Mode.ANONYMOUS, "Een")
    await sign_in(client, person, clock)
    for old, new in (
        ("/console/de-linde/inbox", "/console/o/de-linde/inbox"),
        (f"/console/de-linde/inbox/{conversation}", f"/console/o/de-linde/inbox/{conversation}"),
        ("/console/de-linde/inbox?show=closed", "/console/o/de-linde/inbox?show=closed"),
    ):
        response = await client.get(old, allow_redirects=False)
        assert response.status == 308, old
        assert response.headers["Location"] == new
    token = csrf_from(await (await client.get("/console/o/de-linde/inbox")).text())
    posted = await client.post(
        "/console/de-linde/inbox/unlock", data={"csrf_token": token}, allow_redirects=False
    )
    assert posted.status == 308  # the method and the form travel on
    assert posted.headers["Location"] == "/console/o/de-linde/inbox/unlock"
    assert await unlock(client, "de-linde") == 200
    for path in ("/console/inbox", "/console/o/de-linde/inbox/x", "/console/de-linde/inbox"):
        assert confidential_path(path), path
    assert not confidential_path("/console/o/de-linde/content")


async def test_the_digest_link_finds_the_one_organisation_that_waits(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    person, channel, linde, noord = await counsellor_of_two(services)
    await sign_in(client, person, clock)
    nothing = await client.get("/console/inbox", allow_redirects=False)
    assert nothing.headers["Location"] == "/console/"
    await channel.service.start(noord.id, 90, Mode.ANONYMOUS, "Een")
    await unlock(client, "noord")  # the counsellor's own POST forgets what was counted (else: a few seconds)
    one = await client.get("/console/inbox", allow_redirects=False)
    assert one.headers["Location"] == "/console/o/noord/inbox"
    await channel.service.start(linde.id, 90, Mode.ANONYMOUS, "Twee")
    await unlock(client, "noord")  # forgets the counts
    both = await client.get("/console/inbox", allow_redirects=False)
    assert both.headers["Location"] == "/console/"

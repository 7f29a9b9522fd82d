"""The inbox itself: a sealed label per conversation, states and their filter, the chat-like thread, and the
page that shows progress while the key opens (no script needed)."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp.test_utils import TestClient
from sqlmodel import select

from bot.app import Services
from bot.domain.clock import FixedClock
from bot.domain.conversations import LABEL_PAD, Author, Mode, Status
from bot.storage.tables_conversations import ConversationRow
from bot.web.console.inbox_access import INBOX as INBOX_STATE
from tests.console.helpers import csrf_from, sign_in
from tests.inbox.support import INBOX, counsellor_with_key, unlock, unlock_through

LABEL = "pesten-door-leidinggevende-7c1e"


async def sealed_labels(services: Services) -> dict[object, bytes | None]:
    async with services.sessions() as session:
        rows = (await session.exec(select(ConversationRow))).all()
    return {row.id: row.sealed_label for row in rows}


async def test_a_label_is_sealed_shown_to_the_counsellor_and_never_stored_in_clear(
    client: TestClient, services: Services, clock: FixedClock, database_url: str
) -> None:
    person, channel, org = await counsellor_with_key(services, "de-linde", "mira@vp.test")
    first, _ = await channel.service.start(org.id, 90, Mode.ANONYMOUS, "Een")
    second, _ = await channel.service.start(org.id, 90, Mode.ANONYMOUS, "Twee")
    await sign_in(client, person, clock)
    assert await unlock(client, "de-linde") == 200
    page = await client.get(f"{INBOX('de-linde')}/{first}")
    token = csrf_from(await page.text())
    labelled = await client.post(
        f"{INBOX('de-linde')}/{first}/label", data={"csrf_token": token, "label": LABEL}
    )
    assert labelled.history[0].status == 303  # POST/redirect/GET: no page answers the label's POST
    assert f"<h1>{LABEL} · Gesprek van 2026-03-02</h1>" in await labelled.text()
    await client.post(f"{INBOX('de-linde')}/{second}/label", data={"csrf_token": token, "label": "x"})
    listing = await (await client.get(INBOX("de-linde"))).text()
    assert f">{LABEL}</a>" in listing

    stored = await sealed_labels(services)
    assert stored[first] is not None
    assert stored[second] is not None
    assert len(stored[first] or b"") == len(stored[second] or b"")  # padded: the length says nothing
    assert len(stored[first] or b"") > LABEL_PAD
    if database_url.startswith("sqlite"):
        path = Path(database_url.split("///", 1)[1])
        for part in (path, path.with_name(path.name + "-wal")):
            if part.exists():
                assert LABEL.encode() not in part.read_bytes()

    too_long = await client.post(
        f"{INBOX('de-linde')}/{first}/label", data={"csrf_token": token, "label": "x" * 61}
    )
    assert too_long.status == 400
    assert "Een label is hoogstens 60 tekens." in await too_long.text()
    assert (await sealed_labels(services))[first] == stored[first]
    cleared = await client.post(
        f"{INBOX('de-linde')}/{first}/label", data={"csrf_token": token, "label": " "}
    )
    assert cleared.status == 200
    assert (await sealed_labels(services))[first] is None
    # Locked again, the label is gone from view: it opens only with the counsellor's key.
    await client.post(f"{INBOX('de-linde')}/lock", data={"csrf_token": token})
    assert "x</a>" not in await (await client.get(INBOX("de-linde"))).text()


async def test_states_and_the_filter(client: TestClient, services: Services, clock: FixedClock) -> None:
    person, channel, org = await counsellor_with_key(services, "de-linde", "mira@vp.test")
    new, _ = await channel.service.start(org.id, 90, Mode.ANONYMOUS, "Nieuw")
    theirs, _ = await channel.service.start(org.id, 90, Mode.ANONYMOUS, "Beantwoord")
    await channel.service.write(org.id, 90, theirs, Author.COUNSELLOR, "Dag", 1)
    mine, _ = await channel.service.start(org.id, 90, Mode.ANONYMOUS, "Weer terug")
    await channel.service.write(org.id, 90, mine, Author.COUNSELLOR, "Dag", 1)
    await channel.service.write(org.id, 90, mine, Author.EMPLOYEE, "Nog iets", 2)
    closed, _ = await channel.service.start(org.id, 90, Mode.ANONYMOUS, "Klaar")
    await channel.store.set_status(org.id, closed, Status.CLOSED)
    await sign_in(client, person, clock)
    assert await unlock(client, "de-linde") == 200

    async def shown(show: str | None) -> set[str]:
        url = INBOX("de-linde") + (f"?show={show}" if show else "")
        html = await (await client.get(url)).text()
        return {
            conversation
            for _state, conversation in re.findall(
                r'<tr class="state-(\w+)">\s*<td><a href="[^"]*/inbox/([0-9a-f-]+)"', html
            )
        }

    assert await shown(None) == {str(new), str(theirs), str(mine)}  # open ones by default
    assert await shown("needs_you") == {str(new), str(mine)}
    assert await shown("new") == {str(new)}
    assert await shown("waiting_for_you") == {str(mine)}
    assert await shown("waiting_for_employee") == {str(theirs)}
    assert await shown("closed") == {str(closed)}
    assert await shown("all") == {str(new), str(theirs), str(mine), str(closed)}
    assert await shown("nonsense") == await shown(None)
    html = await (await client.get(INBOX("de-linde"))).text()
    assert "Voor jou (2)" in html
    assert "Wacht op de medewerker (1)" in html
    assert 'aria-current="page">Lopend (3)' in html


async def test_the_thread_tells_employee_and_counsellor_apart(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    person, channel, org = await counsellor_with_key(services, "de-linde", "mira@vp.test")
    conversation, _ = await channel.service.start(org.id, 90, Mode.PSEUDONYMOUS, "Hulp gevraagd", "Sam")
    await channel.service.write(org.id, 90, conversation, Author.COUNSELLOR, "Ik luister", 1)
    await sign_in(client, person, clock)
    await unlock(client, "de-linde")
    html = await (await client.get(f"{INBOX('de-linde')}/{conversation}")).text()
    bubbles = re.findall(r'<li class="bubble from-(\w+)[^"]*">\s*<p class="who">([^<·]+)', html)
    assert [(who, label.strip()) for who, label in bubbles] == [
        ("employee", "Wie de medewerker is (zelf gedeeld)"),
        ("employee", "Medewerker"),
        ("counsellor", "Vertrouwenspersoon"),
    ]
    # Sections in their order, each findable by its id (a new section is one more template).
    order = [html.index(f'id="{name}"') for name in ("thread", "reply-section", "label-section", "classify")]
    assert order == sorted(order)


async def test_unlocking_shows_progress_without_script_and_then_moves_on(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    person, channel, org = await counsellor_with_key(services, "de-linde", "mira@vp.test")
    conversation, _ = await channel.service.start(org.id, 90, Mode.ANONYMOUS, "Een")
    await sign_in(client, person, clock)
    inbox = next(sub[INBOX_STATE] for sub in client.server.app._subapps if INBOX_STATE in sub)
    # Both unlock slots taken (as by two other counsellors' slow unlocks): ours has to wait.
    await inbox.unlocking.acquire()
    await inbox.unlocking.acquire()
    page = await client.get(f"{INBOX('de-linde')}?next={conversation}")
    posted = await client.post(
        f"{INBOX('de-linde')}/unlock",
        data={
            "passphrase": "de wachtwoordzin van mira",
            "next": str(conversation),
            "csrf_token": csrf_from(await page.text()),
        },
        allow_redirects=False,
    )
    assert posted.status == 303
    assert posted.headers["Location"] == f"{INBOX('de-linde')}/unlocking?next={conversation}"
    busy = await client.get(posted.headers["Location"], allow_redirects=False)
    html = await busy.text()
    assert busy.status == 200
    assert 'aria-busy="true"' in html
    assert 'class="spinner"' in html
    assert '<meta http-equiv="refresh" content="1;url=' in html
    assert "Je sleutel wordt geopend" in html
    inbox.unlocking.release()
    inbox.unlocking.release()
    final = await unlock_until_done(client, posted.headers["Location"])
    assert final == f"{INBOX('de-linde')}/{conversation}"  # straight on to the conversation it came for


async def unlock_until_done(client: TestClient, location: str) -> str:
    from tests.support.waiting import eventually

    found: list[str] = []

    async def moved() -> bool:
        response = await client.get(location, allow_redirects=False)
        if response.status == 303:
            found.append(response.headers["Location"])
            return True
        return False

    await eventually(moved, what="the unlock to finish")
    return found[0]


async def test_a_wrong_passphrase_ends_on_the_refusal(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    person, _channel, _org = await counsellor_with_key(services, "de-linde", "mira@vp.test")
    await sign_in(client, person, clock)
    refused = await unlock_through(client, "de-linde", "niet de goede")
    assert refused.status == 400
    assert "Deze wachtwoordzin opent je sleutel niet." in await refused.text()
    assert not [c for c in client.session.cookie_jar if c.key == "vipbot_inbox"]

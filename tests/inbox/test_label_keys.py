"""Conversation labels sealed under the organisation's label keys (`bot.web.portal.labels`): every counsellor who
holds a conversation reads its label, one added later too; a removed counsellor's share is destroyed; labels of the
first format (sealed to the conversation's key) still open and are re-sealed on unlock; the label key itself never
reaches the data folder in clear."""

from __future__ import annotations

import itertools
from pathlib import Path
from uuid import UUID, uuid4

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.catalog import ContentLibrary
from bot.domain.clock import FixedClock
from bot.domain.conversations import ConversationSummary, Mode, label_key_id, under_label_key
from bot.security import Secret
from bot.settings import Settings
from bot.storage.db import create_engine
from bot.storage.migrate import code_heads, upgrade
from bot.web.console.auth import CONSOLE
from bot.web.portal.channel import ConfidentialChannel
from bot.web.portal.labels import ConversationLabels
from tests.console.helpers import csrf_from, sign_in
from tests.inbox.support import INBOX, counsellor_with_key, unlock
from tests.portal.support import DEPUTY_PASSPHRASE, PASSPHRASE, Practice, practice
from tests.security.test_destroyed_key_copies import NEW_PASSPHRASE, pieces, surviving

THIRD_PASSPHRASE = "the third counsellor's passphrase"
CANARY_KEY = b"LBLKEY-CANARY-7Q" * 2  # 32 bytes: what the label key is made of in the canary test
LABEL = "LBL-CANARY pesten op de afdeling"


async def labels_seen(
    channel: ConfidentialChannel, counsellor_id: UUID, passphrase: str
) -> dict[UUID, str | None]:
    """What the inbox list shows this counsellor: each conversation's label, by conversation id."""
    key = await channel.unlock(counsellor_id, Secret(passphrase))
    found: dict[UUID, str | None] = {}
    for organisation_id in await channel.store.organisations_of(counsellor_id):
        listing = (await channel.store.inbox_listing(counsellor_id, organisation_id, uuid4())).found
        reader = channel.labels.reader(key, listing.label_key_shares)
        for summary, share in listing.conversations:
            found[summary.id] = reader.label(summary, share=share)
    return found


async def stored_summary(p: Practice, conversation_id: UUID) -> ConversationSummary:
    return await p.channel.store.get(p.org.id, conversation_id)


async def test_every_counsellor_of_the_conversation_reads_its_label_a_later_one_too(
    services: Services,
) -> None:
    p = await practice(services)
    conversation, _ = await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Een gesprek")
    mira = await p.channel.unlock(p.counsellor_id, Secret(PASSPHRASE))
    await p.channel.labels.set(mira, p.org.id, conversation, LABEL)

    sealed = (await stored_summary(p, conversation)).sealed_label
    assert sealed is not None
    assert under_label_key(sealed)
    assert (await labels_seen(p.channel, p.counsellor_id, PASSPHRASE))[conversation] == LABEL
    assert (await labels_seen(p.channel, p.deputy_id, DEPUTY_PASSPHRASE))[conversation] == LABEL

    # A counsellor who joins later holds nothing until a colleague unlocks; then the conversation and its label.
    third = await p.channel.add_counsellor(p.org.id, "Noor", "noor@vp.test", Secret(THIRD_PASSPHRASE))
    assert await labels_seen(p.channel, third, THIRD_PASSPHRASE) == {}
    await p.channel.share_with_colleagues(mira)
    assert (await labels_seen(p.channel, third, THIRD_PASSPHRASE))[conversation] == LABEL

    # The later counsellor labels too, with the same key: everyone reads it.
    noor = await p.channel.unlock(third, Secret(THIRD_PASSPHRASE))
    await p.channel.labels.set(noor, p.org.id, conversation, "Door Noor")
    assert (await labels_seen(p.channel, p.deputy_id, DEPUTY_PASSPHRASE))[conversation] == "Door Noor"


async def test_a_label_of_a_conversation_addressed_to_one_counsellor_stays_with_its_holders(
    services: Services,
) -> None:
    """The label key of a conversation the employee addressed to Mira serves Mira and the deputy: a colleague who
    does not hold the conversation gets no share of it."""
    p = await practice(services)
    colleague = await p.channel.add_counsellor(p.org.id, "Eva", "eva@vp.test", Secret(THIRD_PASSPHRASE))
    addressed, _ = await p.channel.service.start(
        p.org.id, 90, Mode.ANONYMOUS, "Alleen voor Mira", counsellor_id=p.counsellor_id
    )
    mira = await p.channel.unlock(p.counsellor_id, Secret(PASSPHRASE))
    await p.channel.labels.set(mira, p.org.id, addressed, LABEL)
    await p.channel.share_with_colleagues(mira)

    assert (await labels_seen(p.channel, p.deputy_id, DEPUTY_PASSPHRASE))[addressed] == LABEL
    held = {key_id for key_id, _ in await p.channel.store.label_key_shares_of(colleague)}
    assert label_key_id(p.org.id, p.counsellor_id) not in held
    assert addressed not in await labels_seen(p.channel, colleague, THIRD_PASSPHRASE)


async def test_removing_a_counsellor_destroys_their_label_key_share(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    p = await practice(services)
    conversation, _ = await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Een gesprek")
    mira = await p.channel.unlock(p.counsellor_id, Secret(PASSPHRASE))
    await p.channel.labels.set(mira, p.org.id, conversation, LABEL)
    removed = [sealed for _id, sealed in await p.channel.store.label_key_shares_of(p.deputy_id)]
    kept = [sealed for _id, sealed in await p.channel.store.label_key_shares_of(p.counsellor_id)]
    assert len(removed) == len(kept) == 1

    await p.channel.store.unlink_counsellor(p.org.id, p.deputy_id)

    assert await p.channel.store.label_key_shares_of(p.deputy_id) == []
    found = await surviving(services, database_url, tmp_path / "copy", [*kept, *removed])
    assert found == list(
        range(len(kept))
    )  # what is current is found (the search works); the removed share not
    assert (await labels_seen(p.channel, p.counsellor_id, PASSPHRASE))[conversation] == LABEL


async def test_rotation_reseals_the_label_key_share(services: Services) -> None:
    p = await practice(services)
    conversation, _ = await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Een gesprek")
    mira = await p.channel.unlock(p.counsellor_id, Secret(PASSPHRASE))
    await p.channel.labels.set(mira, p.org.id, conversation, LABEL)
    before = await p.channel.store.label_key_shares_of(p.counsellor_id)

    await p.channel.rotate_key(p.counsellor_id, Secret(PASSPHRASE), Secret(NEW_PASSPHRASE))

    after = await p.channel.store.label_key_shares_of(p.counsellor_id)
    assert [k for k, _ in after] == [k for k, _ in before]
    assert after != before
    assert (await labels_seen(p.channel, p.counsellor_id, NEW_PASSPHRASE))[conversation] == LABEL


async def test_a_label_of_the_first_format_opens_and_is_resealed_on_unlock(services: Services) -> None:
    p = await practice(services)
    conversation, _ = await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Een gesprek")
    await p.channel.service.set_label(p.org.id, conversation, LABEL)  # sealed to the conversation's key
    first = (await stored_summary(p, conversation)).sealed_label
    assert first is not None
    assert not under_label_key(first)
    assert (await labels_seen(p.channel, p.deputy_id, DEPUTY_PASSPHRASE))[conversation] == LABEL

    await p.channel.share_with_colleagues(await p.channel.unlock(p.counsellor_id, Secret(PASSPHRASE)))

    resealed = (await stored_summary(p, conversation)).sealed_label
    assert resealed is not None
    assert under_label_key(resealed)
    assert (await labels_seen(p.channel, p.counsellor_id, PASSPHRASE))[conversation] == LABEL
    assert (await labels_seen(p.channel, p.deputy_id, DEPUTY_PASSPHRASE))[conversation] == LABEL


async def test_labels_stored_before_the_upgrade_still_open(
    database_url: str, settings: Settings, content: ContentLibrary, clock: FixedClock
) -> None:
    """A database labelled before label keys existed: upgraded, its labels open and are re-sealed on unlock."""
    engine = create_engine(database_url)
    try:
        for head in sorted(code_heads() - {"labelkeys_0001"}):
            await upgrade(engine, head)
        services = Services(settings=settings, clock=clock, engine=engine, content=content)
        p = await practice(services)
        conversation, _ = await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Van vroeger")
        await p.channel.service.set_label(p.org.id, conversation, LABEL)  # what labelling did then

        await upgrade(engine)

        assert (await labels_seen(p.channel, p.deputy_id, DEPUTY_PASSPHRASE))[conversation] == LABEL
        await p.channel.share_with_colleagues(await p.channel.unlock(p.counsellor_id, Secret(PASSPHRASE)))
        sealed = (await stored_summary(p, conversation)).sealed_label
        assert sealed is not None
        assert under_label_key(sealed)
        assert (await labels_seen(p.channel, p.deputy_id, DEPUTY_PASSPHRASE))[conversation] == LABEL
    finally:
        await engine.dispose()


async def test_the_label_key_never_reaches_the_data_folder_in_clear(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    p = await practice(services)
    canary_bytes = itertools.cycle([CANARY_KEY])

    def token_bytes(n: int) -> bytes:
        # The label key is drawn first (32 bytes); nonces after it come from the same canary source.
        return next(canary_bytes)[:n]

    labels = ConversationLabels(p.channel.store, p.channel.service, token_bytes=token_bytes)
    conversation, _ = await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Een gesprek")
    mira = await p.channel.unlock(p.counsellor_id, Secret(PASSPHRASE))
    await labels.set(mira, p.org.id, conversation, LABEL)
    await labels.set(mira, p.org.id, conversation, LABEL + " bijgewerkt")
    assert (await labels_seen(p.channel, p.deputy_id, DEPUTY_PASSPHRASE))[
        conversation
    ] == LABEL + " bijgewerkt"

    needles = [*pieces(CANARY_KEY), LABEL.encode()[:16]]
    assert await surviving(services, database_url, tmp_path / "copy", needles) == []


async def test_a_counsellor_whose_share_has_not_arrived_labels_the_first_way(services: Services) -> None:
    """Everybody who holds the conversation still reads that label; a colleague's next unlock brings the share
    and the label under the label key."""
    p = await practice(services)
    earlier, _ = await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Eerder")
    mira = await p.channel.unlock(p.counsellor_id, Secret(PASSPHRASE))
    await p.channel.labels.set(mira, p.org.id, earlier, "Eerst")  # the label key, sealed to Mira and Daan
    third = await p.channel.add_counsellor(p.org.id, "Noor", "noor@vp.test", Secret(THIRD_PASSPHRASE))
    later, _ = await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Later")  # sealed to Noor too
    noor = await p.channel.unlock(third, Secret(THIRD_PASSPHRASE))

    await p.channel.labels.set(noor, p.org.id, later, "Door Noor")

    first = (await stored_summary(p, later)).sealed_label
    assert first is not None
    assert not under_label_key(first)
    assert (await labels_seen(p.channel, p.deputy_id, DEPUTY_PASSPHRASE))[later] == "Door Noor"
    await p.channel.share_with_colleagues(mira)
    resealed = (await stored_summary(p, later)).sealed_label
    assert resealed is not None
    assert under_label_key(resealed)
    assert await labels_seen(p.channel, third, THIRD_PASSPHRASE) == {earlier: "Eerst", later: "Door Noor"}


async def test_the_list_kept_between_requests_holds_no_label(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    """The rendered list is kept a few seconds, without its labels: they are opened and filled in per request."""
    person, channel, org = await counsellor_with_key(services, "de-linde", "mira@vp.test")
    conversation, _ = await channel.service.start(org.id, 90, Mode.ANONYMOUS, "Een")
    await channel.service.start(org.id, 90, Mode.ANONYMOUS, "Twee")
    await sign_in(client, person, clock)
    assert await unlock(client, "de-linde") == 200
    page = await client.get(f"{INBOX('de-linde')}/{conversation}")
    await client.post(
        f"{INBOX('de-linde')}/{conversation}/label",
        data={"csrf_token": csrf_from(await page.text()), "label": "<b>" + LABEL},
    )
    for _ in range(2):
        listing = await (await client.get(INBOX("de-linde"))).text()
        assert f">&lt;b&gt;{LABEL}</a>" in listing  # filled in, escaped once
        assert "Gesprek van 2026-03-02</a>" in listing  # the unlabelled one

    consoles = [sub[CONSOLE] for sub in _sub_apps(client.app) if CONSOLE in sub]
    kept = [
        value
        for console in consoles
        for name, cache in console._expiring.items()
        if name == "inbox_pages"
        for _at, value in cache._items._items.values()
    ]
    assert kept
    assert all(LABEL not in fragment.html for fragment in kept)


def _sub_apps(app: web.Application) -> list[web.Application]:
    found = [app]
    for resource in app.router.resources():
        sub = getattr(resource, "_app", None)
        if isinstance(sub, web.Application):
            found += _sub_apps(sub)
    return found

"""Key rotation and removing a counsellor destroy like erasure does: a copy of the data folder taken right after
holds neither the old wrapped private key nor the removed key shares (SQLite: database, `-wal` and `-shm`).

PostgreSQL keeps dead row versions until VACUUM (docs/portal.md says what that means); there the tests check
what a database copy made with SQL shows.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from uuid import UUID

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.conversations import Mode
from bot.domain.tenancy import Organisation
from bot.security import Secret
from tests.console.helpers import csrf_from, make_person, sign_in
from tests.portal.support import PASSPHRASE, practice

NEW_PASSPHRASE = "an entirely new passphrase for the rotated key"


def copy_data_folder(database_url: str, into: Path) -> bytes:
    """Copy the SQLite file with its `-wal` and `-shm` the way a backup or an admin would, and return all bytes."""
    database = Path(database_url.split("///", 1)[1])
    into.mkdir()
    raw = b""
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{database}{suffix}")
        if source.exists():
            copied = into / source.name
            shutil.copyfile(source, copied)
            raw += copied.read_bytes()
    return raw


def pieces(blob: bytes) -> list[bytes]:
    """Three 32-byte windows of a blob (start, middle, end): any one found means the blob survived."""
    middle = len(blob) // 2
    return [blob[:32], blob[middle : middle + 32], blob[-32:]]


async def all_rows_hex(services: Services) -> str:
    async with services.engine.connect() as connection:
        names = await connection.run_sync(lambda sync: sync.dialect.get_table_names(sync))
        parts = []
        for name in names:
            rows = (await connection.execute(text(f'SELECT * FROM "{name}"'))).all()  # noqa: S608
            parts.append(" ".join(v.hex() if isinstance(v, bytes) else str(v) for r in rows for v in r))
    return "\n".join(parts)


async def surviving(services: Services, database_url: str, folder: Path, blobs: list[bytes]) -> list[int]:
    """Indexes of the blobs of which some piece can still be found in a copy of the data."""
    if database_url.startswith("sqlite"):
        raw = copy_data_folder(database_url, folder)
        return [i for i, blob in enumerate(blobs) if any(piece in raw for piece in pieces(blob))]
    dump = await all_rows_hex(services)
    return [i for i, blob in enumerate(blobs) if any(piece.hex() in dump for piece in pieces(blob))]


async def test_rotation_leaves_no_old_wrapped_key_or_old_share_in_a_copy(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    p = await practice(services)
    service = p.channel.service
    for text_ in ("Eerste gesprek", "Tweede gesprek", "Derde gesprek"):
        await service.start(p.org.id, 90, Mode.ANONYMOUS, text_)
    old_wrapped = (await p.channel.store.vault(p.counsellor_id)).wrapped_private
    old_shares = [sealed for _id, sealed in await p.channel.store.shares_of(p.counsellor_id)]
    assert len(old_shares) == 3

    assert await p.channel.rotate_key(p.counsellor_id, Secret(PASSPHRASE), Secret(NEW_PASSPHRASE)) == 3

    new_wrapped = (await p.channel.store.vault(p.counsellor_id)).wrapped_private
    new_shares = [sealed for _id, sealed in await p.channel.store.shares_of(p.counsellor_id)]
    blobs = [new_wrapped, *new_shares, old_wrapped, *old_shares]
    found = await surviving(services, database_url, tmp_path / "copy", blobs)
    # What is current can be found (the search works); nothing of the old key material can.
    assert found == list(range(1 + len(new_shares)))


async def test_unlink_leaves_no_share_in_a_copy(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    p = await practice(services)
    for text_ in ("Eerste gesprek", "Tweede gesprek"):
        await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, text_)
    deputy_shares = [sealed for _id, sealed in await p.channel.store.shares_of(p.deputy_id)]
    kept_shares = [sealed for _id, sealed in await p.channel.store.shares_of(p.counsellor_id)]

    assert await p.channel.store.unlink_counsellor(p.org.id, p.deputy_id) == 2

    found = await surviving(services, database_url, tmp_path / "copy", [*kept_shares, *deputy_shares])
    assert found == list(range(len(kept_shares)))


@pytest.fixture
async def organisation(console_services: Services) -> Organisation:
    return await console_services.organisations.add_organisation(
        "Zorggroep De Linde", "de-linde", "Europe/Amsterdam", "nl", 90
    )


async def _counsellor_with_key(services: Services, organisation: Organisation) -> tuple[UUID, UUID]:
    """A counsellor made through a console account, then given a key pair: (account id, counsellor id)."""
    person = await make_person(services, Role.COUNSELLOR, "daan@vp.test", organisation.id)
    p_counsellor = person.account.counsellor_id
    assert p_counsellor is not None
    return person.account.id, p_counsellor


async def test_removing_a_counsellor_in_the_console_destroys_their_key_copies(
    console_services: Services,
    client: TestClient,
    clock: FixedClock,
    database_url: str,
    tmp_path: Path,
    organisation: Organisation,
) -> None:
    from bot.security import INSECURE_TEST_ARGON2_PARAMS
    from bot.web.portal.channel import ConfidentialChannel

    services = console_services
    account_id, counsellor_id = await _counsellor_with_key(services, organisation)
    channel = ConfidentialChannel(
        services.engine, services.settings, services.clock, argon2=INSECURE_TEST_ARGON2_PARAMS
    )
    # The console account's counsellor gets a key (same e-mail address), and a colleague who stays.
    assert await channel.add_counsellor(organisation.id, "Daan", "daan@vp.test", Secret(PASSPHRASE)) == (
        counsellor_id
    )
    colleague = await channel.add_counsellor(
        organisation.id, "Mira", "mira@vp.test", Secret("mira passphrase x")
    )
    for text_ in ("Eerste gesprek", "Tweede gesprek"):
        await channel.service.start(organisation.id, 90, Mode.ANONYMOUS, text_)
    removed_shares = [sealed for _id, sealed in await channel.store.shares_of(counsellor_id)]
    kept_shares = [sealed for _id, sealed in await channel.store.shares_of(colleague)]
    assert len(removed_shares) == len(kept_shares) == 2

    admin = await make_person(services, Role.ADMIN, "admin@vp.test")
    await sign_in(client, admin, clock)
    page = await client.get(f"/console/o/{organisation.slug}")
    response = await client.post(
        f"/console/o/{organisation.slug}/counsellors/remove",
        data={"account": str(account_id), "csrf_token": csrf_from(await page.text())},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()

    assert await channel.store.shares_of(counsellor_id) == []
    found = await surviving(services, database_url, tmp_path / "copy", [*kept_shares, *removed_shares])
    assert found == list(range(len(kept_shares)))

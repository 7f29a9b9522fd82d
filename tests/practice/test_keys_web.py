"""Keys in the browser session: the counsellor (here an administrator who becomes the counsellor) creates and
rotates the key in the console; the passphrase never travels back in a page, a redirect or a log line."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.conversations import Author, Mode
from bot.domain.tenancy import CounsellorRole, Organisation
from bot.security import Secret, WrongPassphraseError
from bot.security.counsellor_keys import DEFAULT_ARGON2_PARAMS, WrappedKey
from bot.storage.accounts import SqlAccountRepository
from bot.storage.conversations import SqlConversationStore
from bot.usecases.audit import AuditAction, AuditQuery
from bot.web.portal.channel import ConfidentialChannel
from tests.console.helpers import csrf_from, make_person, sign_in

FIRST = "de eerste wachtwoordzin van mira"
SECOND = "en nu een heel andere wachtwoordzin"


async def post(client: TestClient, path: str, data: dict[str, str]) -> tuple[int, str, str]:
    """A form on /console/me: its answer (always a redirect) and the page it leads to."""
    token = csrf_from(await (await client.get("/console/me")).text())
    response = await client.post(path, data={**data, "csrf_token": token}, allow_redirects=False)
    location = response.headers.get("Location", "")
    page = await (await client.get(location)).text() if location else await response.text()
    return response.status, location, page


async def test_become_the_counsellor_create_and_rotate_the_key_in_the_console(
    client: TestClient,
    console_services: Services,
    clock: FixedClock,
    org_a: Organisation,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await make_person(console_services, Role.ADMIN, "mira@praktijk.test")
    await sign_in(client, admin, clock)
    page = await (await client.get("/console/me")).text()
    assert "Ik ben ook de vertrouwenspersoon" in page

    status, _location, page = await post(client, "/console/me/counsellor", {})
    assert status == 303
    account = await SqlAccountRepository(console_services.sessions).get(admin.account.id)
    assert account is not None
    assert account.counsellor_id is not None
    assert "Sleutel aanmaken" in page

    # the console's password rules apply to the passphrase; every answer is a redirect to a GET page
    for data, message in (
        ({"passphrase": FIRST, "repeat": FIRST + "x"}, "niet gelijk"),
        ({"passphrase": "te kort", "repeat": "te kort"}, "minstens 12 tekens"),
        ({"passphrase": "mira@praktijk.test", "repeat": "mira@praktijk.test"}, "niet je e-mailadres"),
    ):
        status, location, page = await post(client, "/console/me/key", data)
        assert status == 303
        assert location.startswith("/console/me?d=")
        assert message in page
    store = SqlConversationStore(console_services.sessions)
    assert not await store.has_key(account.counsellor_id)

    status, location, page = await post(client, "/console/me/key", {"passphrase": FIRST, "repeat": FIRST})
    assert (status, location) == (303, "/console/me?done=key")
    assert "Je sleutel is aangemaakt" in page
    vault = await store.vault(account.counsellor_id)
    assert WrappedKey.from_bytes(vault.wrapped_private).params == DEFAULT_ARGON2_PARAMS
    # a second key is refused: the first one holds conversation keys
    status, _location, page = await post(client, "/console/me/key", {"passphrase": SECOND, "repeat": SECOND})
    assert "Je hebt al een sleutel" in page

    # the organisation gets a conversation sealed to that key (the admin serves it)
    await store.link_counsellor(org_a.id, account.counsellor_id, CounsellorRole.PRIMARY)
    channel = ConfidentialChannel(console_services.engine, console_services.settings, console_services.clock)
    conversation, _code = await channel.service.start(org_a.id, 90, Mode.ANONYMOUS, "Hallo Mira")

    status, _location, page = await post(
        client, "/console/me/key/rotate", {"current": "niet de goede", "passphrase": SECOND, "repeat": SECOND}
    )
    assert "De huidige wachtwoordzin klopt niet" in page
    status, location, page = await post(
        client, "/console/me/key/rotate", {"current": FIRST, "passphrase": SECOND, "repeat": SECOND}
    )
    assert (status, location) == (303, "/console/me?done=rotated")
    with pytest.raises(WrongPassphraseError):
        await channel.unlock(account.counsellor_id, Secret(FIRST))
    key = await channel.unlock(account.counsellor_id, Secret(SECOND))
    thread = await channel.service.read(
        org_a.id, conversation, await channel.service.counsellor_key(key, conversation), Author.COUNSELLOR
    )
    assert thread.messages[0].text == "Hallo Mira"

    assert FIRST not in caplog.text
    assert SECOND not in caplog.text
    logged = (await console_services.audit.list(AuditQuery())).entries
    assert [(e.action, e.subject, e.actor_account_id) for e in reversed(logged)] == [
        (AuditAction.SIGNED_IN, None, admin.account.id),
        (AuditAction.PROFILE_CHANGED, "counsellor", admin.account.id),
        (AuditAction.KEY_CREATED, "key", admin.account.id),
        (AuditAction.KEY_ROTATED, "key", admin.account.id),
    ]


async def test_a_management_viewer_has_no_profile_and_no_key(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    viewer = await make_person(console_services, Role.VIEWER, "mt@linde.test", org_a.id)
    await sign_in(client, viewer, clock)
    assert (await client.get("/console/me")).status == 403
    token = csrf_from(await (await client.get("/console/o/de-linde/insights")).text())
    for path in ("/console/me/counsellor", "/console/me/key"):
        response = await client.post(
            path, data={"csrf_token": token, "passphrase": FIRST, "repeat": FIRST}, allow_redirects=False
        )
        assert response.status == 403
    account = await SqlAccountRepository(console_services.sessions).get(viewer.account.id)
    assert account is not None
    assert account.counsellor_id is None

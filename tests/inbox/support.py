"""Helpers for the inbox tests: a counsellor with a key in an organisation, unlocking through the console."""

from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.tenancy import Organisation
from bot.security import INSECURE_TEST_ARGON2_PARAMS, Secret
from bot.storage.accounts import SqlAccountRepository
from bot.web.portal.channel import ConfidentialChannel
from tests.console.helpers import Person, csrf_from, make_person
from tests.support.waiting import eventually

PASSPHRASE = "de wachtwoordzin van mira"


def INBOX(slug: str) -> str:  # noqa: N802  (reads as a constant path)
    return f"/console/o/{slug}/inbox"


def channel_of(services: Services) -> ConfidentialChannel:
    return ConfidentialChannel(
        services.engine, services.settings, services.clock, argon2=INSECURE_TEST_ARGON2_PARAMS
    )


async def counsellor_with_key(
    services: Services, slug: str, email: str, passphrase: str = PASSPHRASE
) -> tuple[Person, ConfidentialChannel, Organisation]:
    org = await services.organisations.add_organisation(slug.title(), slug, "Europe/Amsterdam", "nl", 90)
    person = await make_person(services, Role.COUNSELLOR, email, org.id)
    channel = channel_of(services)
    assert (
        await channel.add_counsellor(org.id, email, email, Secret(passphrase)) == person.account.counsellor_id
    )
    return person, channel, org


async def unlock_through(
    client: TestClient | aiohttp.ClientSession, slug: str, passphrase: str = PASSPHRASE, following: str = ""
) -> aiohttp.ClientResponse:
    """Post the unlock form as a browser would and follow the "opening your key" page until it moves on.

    Returns the page it ends on: the inbox (or the conversation named by `following`), or the locked page with
    the refusal. Every answer on the way is a redirect or the busy page: no page answers the POST itself.
    """
    page = await client.get(INBOX(slug) + (f"?next={following}" if following else ""))
    data = {"passphrase": passphrase, "csrf_token": csrf_from(await page.text())}
    if following:
        data["next"] = following
    posted = await client.post(f"{INBOX(slug)}/unlock", data=data, allow_redirects=False)
    assert posted.status == 303, posted.status
    location = posted.headers["Location"]
    final: list[aiohttp.ClientResponse] = []

    async def moved_on() -> bool:
        nonlocal location
        response = await client.get(location, allow_redirects=False)
        if response.status == 303:
            location = response.headers["Location"]
            return False
        html = await response.text()
        if 'aria-busy="true"' in html:
            return False
        final.append(response)
        return True

    await eventually(moved_on, what="the unlock to finish")
    return final[0]


async def unlock(client: TestClient, slug: str, passphrase: str = PASSPHRASE) -> int:
    """The status of the page the unlock form ends on."""
    return (await unlock_through(client, slug, passphrase)).status


async def counsellor_of_two(
    services: Services,
) -> tuple[Person, ConfidentialChannel, Organisation, Organisation]:
    """Mira, counsellor (with a key) of De Linde and of Noord."""
    person, channel, linde = await counsellor_with_key(services, "de-linde", "mira@vp.test")
    noord = await services.organisations.add_organisation("Noord", "noord", "Europe/Amsterdam", "nl", 90)
    repo = SqlAccountRepository(services.sessions)
    await repo.assign_counsellor(person.account.id, noord.id)
    account = await repo.get(person.account.id)
    assert account is not None
    return Person(account, person.password, person.totp), channel, linde, noord

"""Helpers for the inbox tests: a counsellor with a key in an organisation, unlocking through the console."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.tenancy import Organisation
from bot.security import INSECURE_TEST_ARGON2_PARAMS, Secret
from bot.web.portal.channel import ConfidentialChannel
from tests.console.helpers import Person, csrf_from, make_person

PASSPHRASE = "de wachtwoordzin van mira"


def INBOX(slug: str) -> str:  # noqa: N802  (reads as a constant path)
    return f"/console/{slug}/inbox"


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


async def unlock(client: TestClient, slug: str, passphrase: str = PASSPHRASE) -> int:
    """The status of the page the unlock form leads to."""
    page = await client.get(INBOX(slug))
    response = await client.post(
        f"{INBOX(slug)}/unlock",
        data={"passphrase": passphrase, "csrf_token": csrf_from(await page.text())},
    )
    return response.status

"""Helpers for console tests: accounts with known passwords and authenticators, forms with CSRF tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import aiohttp
from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Account, Role
from bot.domain.clock import FixedClock
from bot.security import (
    INSECURE_TEST_PASSWORD_POLICY,
    Secret,
    SecretBox,
    hash_password,
    new_totp_secret,
    totp_code,
)
from bot.storage.accounts import SqlAccountRepository

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Person:
    account: Account
    password: str
    totp: Secret[bytes] | None

    @property
    def email(self) -> str:
        return self.account.email


def csrf_from(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def make_person(
    services: Services,
    role: Role,
    email: str,
    organisation_id: UUID | None = None,
    *,
    with_totp: bool = True,
    password: str = PASSWORD,
) -> Person:
    repo = SqlAccountRepository(services.sessions)
    encoded = hash_password(Secret(password), policy=INSECURE_TEST_PASSWORD_POLICY)
    account = await repo.create_account(
        email, email.split("@", maxsplit=1)[0].title(), role, encoded, organisation_id=organisation_id
    )
    secret: Secret[bytes] | None = None
    if with_totp and role.needs_totp:
        secret = new_totp_secret()
        key = services.settings.secret_key
        assert key is not None
        box = SecretBox(Secret(key.get_secret_value().encode("utf-8")), "console/totp-secret")
        await repo.set_totp(account.id, box.encrypt(secret.reveal(), associated=account.id.bytes), 0)
        account = (await repo.get(account.id)) or account
    return Person(account=account, password=password, totp=secret)


def other_browser(client: TestClient) -> aiohttp.ClientSession:
    """A second, independent browser against the same server (its own cookies)."""
    return aiohttp.ClientSession(
        base_url=str(client.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
    )


async def form_token(client: TestClient | aiohttp.ClientSession, path: str) -> str:
    response = await client.get(path)
    return csrf_from(await response.text())


async def sign_in(client: TestClient | aiohttp.ClientSession, person: Person, clock: FixedClock) -> None:
    """Password, then (for admins and counsellors) the current authenticator code; moves the clock on 30 s."""
    token = await form_token(client, "/console/login")
    response = await client.post(
        "/console/login",
        data={"email": person.email, "password": person.password, "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    if person.totp is not None:
        assert response.headers["Location"].endswith("/console/login/code")
        token = await form_token(client, "/console/login/code")
        code = totp_code(person.totp, clock.now().timestamp())
        response = await client.post(
            "/console/login/code", data={"code": code, "csrf_token": token}, allow_redirects=False
        )
        assert response.status == 303, await response.text()
        clock.advance(timedelta(seconds=30))
    assert response.headers["Location"].startswith("/console/")


async def seed_pulse_round(
    services: Services,
    organisation_id: UUID,
    teams: dict[str, int],
    opened_at: datetime,
    value: str = "4",
) -> None:
    """One closed round of the weekly check-in: `teams` maps a team slug to how many people answered there."""
    from bot.storage.pulses import SqlPulseStore, master_key_from

    key = services.settings.secret_key
    assert key is not None
    store = SqlPulseStore(services.engine, master_key_from(key.get_secret_value()))
    tree = await services.organisations.group_tree(organisation_id)
    pulse = await store.open_pulse(
        organisation_id, "wekelijkse-check-in", tree.root.id, opened_at, opened_at + timedelta(days=3), tree
    )
    person = 0
    for slug, count in teams.items():
        group = tree.by_slug(slug)
        assert group is not None
        for _ in range(count):
            person += 1
            for question in ("veilig-om-te-zeggen", "respectvol-behandeld", "werkdruk-haalbaar"):
                await store.record_answer(
                    organisation_id, pulse.id, question, group.id, value, f"p{person}".encode()
                )
            await store.record_answer(
                organisation_id, pulse.id, "sfeer-deze-week", group.id, "goed", f"p{person}".encode()
            )
    assert await store.close_pulse(organisation_id, pulse.id, opened_at + timedelta(days=3))

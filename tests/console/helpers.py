"""Helpers for console tests: accounts with known passwords and authenticators, forms with CSRF tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Account, Role
from bot.domain.clock import FixedClock
from bot.domain.tenancy import Organisation
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


@dataclass
class Seeded:
    """Real objects in one organisation, for walking every console route with ids that exist."""

    organisation: Organisation
    counsellor: Person
    item: str  # an own column's uuid
    schedule: str  # a schedule's name
    session: str  # a team session's uuid
    conversation: str  # a confidential conversation's uuid
    library_column: str  # a bundled column's id


INBOX_PASSPHRASE = "de wachtwoordzin van de vertrouwenspersoon"


async def seed_organisation(services: Services, organisation: Organisation, counsellor_email: str) -> Seeded:
    """A department and a team with a Slack channel, an own column scheduled weekly, a team session ahead, and
    a conversation held by the organisation's counsellor (whose console account can unlock the inbox)."""
    from bot.domain.content import Text
    from bot.domain.conversations import Mode
    from bot.domain.outreach import Audience, What, WhenBlocked
    from bot.domain.team_sessions import TeamSession
    from bot.domain.tenancy import GroupKind, Platform
    from bot.security import INSECURE_TEST_ARGON2_PARAMS
    from bot.storage.console_content import ItemDraft, SqlConsoleContent
    from bot.web.console.outreach_bridge import outreach_of
    from bot.web.portal.channel import ConfidentialChannel

    orgs = services.organisations
    now = services.clock.now()
    await orgs.add_group(organisation.id, "Zorg", GroupKind.DEPARTMENT, None)
    await orgs.add_group(organisation.id, "Team Noord", GroupKind.TEAM, "zorg")
    await orgs.bind_channel(organisation.id, "zorg", Platform.SLACK, "T1", f"C-{organisation.slug}", "zorg")
    counsellor = await make_person(services, Role.COUNSELLOR, counsellor_email, organisation.id)
    item = await SqlConsoleContent(services.sessions).save(
        organisation.id,
        ItemDraft(
            kind="column",
            slug="eigen-column",
            theme="",
            reading_minutes=3,
            title=Text("Eigen column", ""),
            summary=Text("", ""),
            body=Text("Tekst van **ons**.", ""),
        ),
        now,
        counsellor.account.id,
    )
    outreach = outreach_of(services)
    audience = Audience(groups=("zorg",))
    await outreach.schedules.add(
        organisation,
        name="maandagcolumn",
        what=What.COLUMN,
        item_id=item.item_id,
        audience=audience,
        recurrence="every monday at 09:30",
        anchor=now.date(),
        timezone=None,
        locale=None,
        when_blocked=WhenBlocked.DEFER,
        grace_minutes=120,
        now=now,
    )
    session = await outreach.team_sessions.add(
        TeamSession(
            id=uuid4(),
            organisation_id=organisation.id,
            title="Intervisie",
            description="",
            starts_at=now + timedelta(days=10),
            ends_at=now + timedelta(days=10, hours=1),
            place="Kantine",
            online_url=None,
            audience=audience,
            locale=None,
        )
    )
    channel = ConfidentialChannel(
        services.engine, services.settings, services.clock, argon2=INSECURE_TEST_ARGON2_PARAMS
    )
    counsellor_id = await channel.add_counsellor(
        organisation.id, counsellor_email, counsellor_email, Secret(INBOX_PASSPHRASE)
    )
    assert counsellor_id == counsellor.account.counsellor_id
    conversation, _code = await channel.service.start(
        organisation.id, organisation.retention_days, Mode.ANONYMOUS, "Een eerste bericht."
    )
    return Seeded(
        organisation=organisation,
        counsellor=counsellor,
        item=str(item.id),
        schedule="maandagcolumn",
        session=str(session.id),
        conversation=str(conversation),
        library_column=services.content.catalog.columns[0].id,
    )


async def database_rows(services: Services, *, skip: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """Every row of every table (but `skip`), as sorted text: compare two of these to see that nothing changed."""
    from sqlalchemy import select as select_all

    from bot.storage.metadata import target_metadata

    found: dict[str, list[str]] = {}
    async with services.engine.connect() as connection:
        for table in target_metadata().sorted_tables:
            if table.name in skip:
                continue
            rows = (await connection.execute(select_all(table))).all()
            found[table.name] = sorted(repr(tuple(row)) for row in rows)
    return found


def routes_of(app: web.Application) -> list[tuple[str, str]]:
    """Every (method, path template) an application serves, its sub-applications' included (static files
    left out), read from the routers themselves so that no route can be forgotten. (A mounted
    sub-application's resources carry its prefix already.)"""
    found: list[tuple[str, str]] = []
    for resource in app.router.resources():
        info = resource.get_info()
        sub = info.get("app")
        if isinstance(sub, web.Application):
            found.extend(routes_of(sub))
            continue
        if "directory" in info:
            continue
        path = info.get("formatter") or info.get("path")
        if path is None:
            continue
        found.extend((route.method, str(path)) for route in resource)
    return sorted(set(found))


def fill(template: str, org: str, seeded: Seeded) -> str:
    """A route template with the real ids of objects in `seeded`'s organisation."""
    path = template.replace("{org}", org)
    path = path.replace("{kind}/{item}", f"column/{seeded.library_column}")
    values = {
        "item": seeded.item,
        "session": seeded.session,
        "conversation": seeded.conversation,
        "name": seeded.schedule,
        "sequence": "0",  # the conversation's opening message (not a file: its download answers 404)
    }
    path = re.sub(r"\{action[^}]*\}", "pause", path)
    for placeholder, value in values.items():
        path = re.sub(r"\{" + placeholder + r"(:[^}]*)?\}", value, path)
    assert "{" not in path, f"the walk does not know how to fill {template}: seed an object for it"
    return path


def form_for(seeded: Seeded, token: str) -> dict[str, str]:
    """One form that every POST handler would accept from a counsellor or an administrator: real groups,
    channels, accounts and items of the organisation, so a refusal can only come from the role check."""
    org = seeded.organisation
    return {
        "csrf_token": token,
        "name": "Nieuwe planning",
        "kind": "team",
        "parent": "zorg",
        "group": "team-noord",
        "platform": "slack",
        "workspace": "T1",
        "channel": f"C-{org.slug}",
        "account": str(seeded.counsellor.account.id),
        "disabled": "1",
        "email": "nieuw@linde.test",
        "role": "counsellor",
        "organisation": str(org.id),
        "title_nl": "Nieuwe titel",
        "body_nl": "Nieuwe tekst.",
        "reading_minutes": "2",
        "what": "column",
        "item": f"own:{seeded.item}",
        "groups": "zorg",
        "recurrence": "every tuesday at 10:00",
        "action": "schedule",
        "title": "Nog een sessie",
        "day": "2026-03-20",
        "start": "14:00",
        "end": "15:00",
        "quiet_start": "19:00",
        "quiet_end": "07:00",
        "holidays": "2026-12-25",
        "signals": "Signalen van de viewer.",
        "advice": "Advies van de viewer.",
        "passphrase": INBOX_PASSPHRASE,
        "text": "Een antwoord van de viewer.",
        "after": "1",
        "status": "closed",
        "duty": "acknowledge",
    }


def refusal_page(html: str) -> bool:
    """The console's own 403/404 page (not a page of the feature that happens to answer 403 or 404)."""
    return "<h1>Geen toegang</h1>" in html or "<h1>Niet gevonden</h1>" in html

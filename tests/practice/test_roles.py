"""One person, several roles: `vipbot counsellor add` and the console invitation make one counsellor row, link
an administrator's console account, and refuse in one line a key that nobody could ever open."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func
from sqlmodel import select

from bot.__main__ import build_parser
from bot.app import Services
from bot.cli.context import CliContext
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.tenancy import Organisation
from bot.errors import ConflictError
from bot.storage.accounts import SqlAccountRepository
from bot.storage.tables import CounsellorRow
from bot.storage.tables_conversations import CounsellorVaultRow
from bot.usecases.audit import AuditAction, AuditQuery
from bot.usecases.counsellors import CounsellorKeyError, KeyProblem
from tests.conftest import TEST_SECRET_KEY
from tests.console.helpers import csrf_from, make_person, sign_in
from tests.ops.cli import run_vipbot
from tests.support.waiting import eventually

PASSPHRASE = "een lange wachtwoordzin voor mira"


async def cli(
    argv: list[str],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stdin: str = "",
) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    args = build_parser().parse_args(argv)
    environ = {
        "VIPBOT_DATABASE_URL": database_url,
        "VIPBOT_DATA_DIR": str(tmp_path),
        "VIPBOT_SECRET_KEY": TEST_SECRET_KEY,
    }
    return int(await args.handler(args, CliContext(environ=environ, dotenv=None)))


async def counsellor_rows(services: Services) -> list[CounsellorRow]:
    async with services.sessions() as session:
        return list((await session.exec(select(CounsellorRow))).all())


async def vaults(services: Services) -> int:
    async with services.sessions() as session:
        return int((await session.exec(select(func.count()).select_from(CounsellorVaultRow))).one())


async def test_an_administrator_who_is_the_counsellor_gets_the_key_and_opens_the_inbox(
    client: TestClient,
    console_services: Services,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: FixedClock,
    org_a: Organisation,
) -> None:
    admin = await make_person(console_services, Role.ADMIN, "mira@praktijk.test")
    code = await cli(
        [
            "counsellor",
            "add",
            org_a.slug,
            "Mira Jansen",
            "--email",
            "Mira@Praktijk.test",
            "--passphrase-stdin",
        ],
        database_url,
        tmp_path,
        monkeypatch,
        PASSPHRASE + "\n",
    )
    assert code == 0
    rows = await counsellor_rows(console_services)
    assert len(rows) == 1
    account = await SqlAccountRepository(console_services.sessions).get(admin.account.id)
    assert account is not None
    assert account.role is Role.ADMIN
    assert account.counsellor_id == rows[0].id  # one person, two roles
    assert account.organisation_ids == {org_a.id}  # the organisations they serve as counsellor
    created = (await console_services.audit.list(AuditQuery(action=AuditAction.KEY_CREATED))).entries
    assert [(e.actor_account_id, e.organisation_id, e.subject) for e in created] == [(None, org_a.id, "key")]

    # and that account opens the inbox with the passphrase: no "ask the admin" for the admin
    await sign_in(client, admin, clock)
    page = await client.get(f"/console/o/{org_a.slug}/inbox")
    html = await page.text()
    assert "counsellor add" not in html
    unlocked = await client.post(
        f"/console/o/{org_a.slug}/inbox/unlock",
        data={"passphrase": PASSPHRASE, "csrf_token": csrf_from(html)},
        allow_redirects=False,
    )
    assert unlocked.status == 303
    assert "vipbot_inbox" in "".join(c.key for c in client.session.cookie_jar)

    async def inbox_open() -> bool:
        landed = await client.get(unlocked.headers["Location"])
        return landed.url.path == f"/console/o/{org_a.slug}/inbox"

    await eventually(inbox_open, timeout=30, what="the inbox to open", interval=0.2)


@pytest.mark.parametrize("cli_first", [True, False])
async def test_before_or_after_the_invitation_it_is_one_counsellor(
    console_services: Services,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    org_a: Organisation,
    org_b: Organisation,
    cli_first: bool,
) -> None:
    add = ["counsellor", "add", org_a.slug, "Mira Jansen", "--email", "mira@vp.test", "--passphrase-stdin"]
    if cli_first:
        assert await cli(add, database_url, tmp_path, monkeypatch, PASSPHRASE + "\n") == 0
        # the invitation is accepted afterwards, with the address typed differently
        person = await make_person(console_services, Role.COUNSELLOR, "MIRA@vp.test", org_b.id)
    else:
        person = await make_person(console_services, Role.COUNSELLOR, "mira@vp.test", org_b.id)
        assert await cli(add, database_url, tmp_path, monkeypatch, PASSPHRASE + "\n") == 0
    rows = await counsellor_rows(console_services)
    assert len(rows) == 1, [r.display_name for r in rows]
    account = await SqlAccountRepository(console_services.sessions).get(person.account.id)
    assert account is not None
    assert account.counsellor_id == rows[0].id
    assert account.organisation_ids == {org_a.id, org_b.id}
    assert await vaults(console_services) == 1

    # a second run refuses (the key exists) and says what to do instead; nothing new is made
    with pytest.raises(ConflictError, match="vipbot counsellor link"):
        await cli(
            ["counsellor", "add", org_b.slug, "Mira Jansen", "--email", "mira@vp.test", "--passphrase-stdin"],
            database_url,
            tmp_path,
            monkeypatch,
            PASSPHRASE + "\n",
        )
    assert len(await counsellor_rows(console_services)) == 1
    assert await vaults(console_services) == 1


async def test_a_key_nobody_could_open_is_refused_before_the_passphrase_is_asked(
    console_services: Services,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    org_a: Organisation,
) -> None:
    await make_person(console_services, Role.VIEWER, "mt@linde.test", org_a.id)
    # stdin is empty: were the passphrase asked, the refusal would be about stdin instead
    with pytest.raises(CounsellorKeyError) as no_email:
        await cli(
            ["counsellor", "add", org_a.slug, "Daan", "--passphrase-stdin"],
            database_url,
            tmp_path,
            monkeypatch,
        )
    assert no_email.value.code is KeyProblem.NO_EMAIL
    with pytest.raises(CounsellorKeyError) as viewer:
        await cli(
            ["counsellor", "add", org_a.slug, "MT", "--email", "mt@linde.test", "--passphrase-stdin"],
            database_url,
            tmp_path,
            monkeypatch,
        )
    assert viewer.value.code is KeyProblem.VIEWER
    assert await counsellor_rows(console_services) == []
    assert await vaults(console_services) == 0


async def test_the_refusal_is_one_line_on_the_command_line(
    console_services: Services, database_url: str, tmp_path: Path, org_a: Organisation
) -> None:
    result = await run_vipbot(
        ["counsellor", "add", org_a.slug, "Daan", "--passphrase-stdin"],
        tmp_path / "data",
        stdin=PASSPHRASE + "\n",
        VIPBOT_DATABASE_URL=database_url,
        VIPBOT_SECRET_KEY=TEST_SECRET_KEY,
    )
    assert result.code == 1
    assert result.err_lines == [
        "vipbot: pass --email with the counsellor's console address: a key no console account is linked to "
        "can never be opened"
    ]
    assert "Traceback" not in result.err
